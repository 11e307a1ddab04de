"""``python -m bus.broker.objectstore``: serve a data dir as a loopback S3 endpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from bus.broker.datadir import IN_USE_EXIT_CODE, DataDirInUse, lock_data_dir
from bus.broker.objectstore.files import FileStore
from bus.broker.objectstore.http import S3App


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()
    try:
        lock = lock_data_dir(args.data_dir)
    except DataDirInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(IN_USE_EXIT_CODE)
    store = FileStore(args.data_dir / "objects")
    for bucket in args.bucket:
        store.create_bucket(bucket)
    uvicorn.run(
        S3App(store).app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    lock.close()


if __name__ == "__main__":
    main()
