"""One writer per data dir: an exclusive ``flock`` held by the object-store process.

The kernel drops the lock when its holder dies, so a crash never leaves a stale lock,
and two ``bus up`` on the same directory cannot both write it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bus.errors import BrokerStartError

LOCK_NAME = "bus.lock"
IN_USE_EXIT_CODE = 75  # EX_TEMPFAIL: someone else holds the data dir


class DataDirInUse(BrokerStartError):
    code = "data_dir_in_use"
    retriable = False


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold the data dir's lock for as long as the returned handle stays open."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DataDirInUse(
            f"data dir {data_dir} is already in use by pid {holder}",
            hint="stop the other `bus up` / `bus broker up`, or pass another --data-dir",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
