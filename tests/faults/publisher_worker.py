"""The fault suite's publisher: publishes the workload version by version, resumable after SIGKILL.

After each version's spool transaction commits, the version number is written to PROGRESS; a
restarted publisher continues after it. A kill between the commit and that write re-publishes
one version with the same ``ce_id``s (Change.event_id), which every later stage drops.

usage: python -m tests.faults.publisher_worker
    BOOTSTRAP REGISTRY SPOOL KEYFILE UNIQUE SUBJECTS VERSIONS PROGRESS PACE_S
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bus.event.signing import private_key_from_pem
from bus.kafka.client import KafkaSettings
from connectors.sdk import Publisher
from tests.engine import BROKER_PROFILE
from tests.faults.workload import Workload


async def main(argv: list[str]) -> None:
    bootstrap, registry, spool, key_file, unique, subjects, versions, progress, pace = argv
    workload = Workload(unique, int(subjects), int(versions))
    settings = KafkaSettings(bootstrap=bootstrap, broker_profile=BROKER_PROFILE)
    progress_file = Path(progress)
    done = int(progress_file.read_text() or 0) if progress_file.exists() else 0
    async with Publisher(
        workload.provider,
        "gbd-fl",
        private_key_from_pem(Path(key_file).read_bytes()),
        bootstrap=settings,
        registry=registry,
        spool_path=Path(spool),
    ) as publisher:
        for version in range(done + 1, workload.versions + 1):
            await publisher.publish_many(workload.batch(version))
            temporary = progress_file.with_suffix(".tmp")
            temporary.write_text(str(version))
            os.replace(temporary, progress_file)
            await asyncio.sleep(float(pace))
        print("spooled", flush=True)
        await publisher.flush(timeout_s=600)
        print("drained", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:10]))
