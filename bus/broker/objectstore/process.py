"""The object store as a child process of the broker supervisor."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bus.broker.datadir import IN_USE_EXIT_CODE, DataDirInUse
from bus.broker.process import log_tail, spawn, terminate
from bus.errors import BrokerStartError

if TYPE_CHECKING:
    import subprocess

BUCKET = "tansu"


class ObjectStoreProcess:
    """``python -m bus.broker.objectstore`` on a loopback port, serving ``data_dir``."""

    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self, timeout_s: float = 20.0) -> None:
        argv = [
            sys.executable,
            "-m",
            "bus.broker.objectstore",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--bucket",
            BUCKET,
        ]
        self._proc = spawn(argv, env=None, log_path=self.log_path)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code == IN_USE_EXIT_CODE:
                self._proc = None
                raise DataDirInUse(
                    log_tail(self.log_path, 1).removeprefix("error: "),
                    hint="stop the other `bus up` / `bus broker up`, or pass another --data-dir",
                )
            if code is not None:
                raise BrokerStartError(
                    f"object store for {self.data_dir} exited with code {code}:\n{log_tail(self.log_path)}",
                    hint=f"see {self.log_path}",
                )
            if await self._bucket_answers():
                return
            await asyncio.sleep(0.05)
        raise BrokerStartError(
            f"object store on port {self.port} did not answer within {timeout_s:.0f} s",
            hint=f"see {self.log_path}",
        )

    async def _bucket_answers(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1.0)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(f"HEAD /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 2.0)
            return status_line.split(b" ")[1:2] == [b"200"]
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await asyncio.get_running_loop().run_in_executor(None, terminate, proc)
