"""Lifecycle of the embedded tansu broker: start on a loopback port, wait, stop cleanly.

Durable by default: with a ``data_dir`` tansu's ``s3://`` storage engine points at the
loopback object store, which keeps every object as an fsynced file. Without one the
broker keeps everything in memory (what most tests use, for speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bus.broker.binary import tansu_binary
from bus.broker.objectstore.process import BUCKET, ObjectStoreProcess
from bus.broker.ports import free_port
from bus.broker.process import log_tail, spawn, terminate
from bus.errors import BrokerError, BrokerStartError
from bus.kafka.client import BrokerProfile, KafkaSettings, make_admin

if TYPE_CHECKING:
    import subprocess

MEMORY_STORAGE = "memory://tansu/"
S3_STORAGE = f"s3://{BUCKET}/"
# Variables tansu reads on its own; a stray one in the caller's environment would
# silently change where the broker listens or stores data, so they never pass through
# (nor does any AWS_* variable: only the loopback object store may be contacted).
_TANSU_ENV = {
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}


class EmbeddedBroker:
    """The tansu broker as a child process; ``async with`` starts and stops it."""

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        log_dir: Path | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.data_dir = data_dir.resolve() if data_dir else None
        default_logs = self.data_dir / "logs" if self.data_dir else None
        self.log_dir = log_dir or default_logs or Path(tempfile.mkdtemp(prefix="bus-broker-"))
        self.log_path = self.log_dir / "tansu.log"
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._objects: ObjectStoreProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def object_store(self) -> ObjectStoreProcess | None:
        """The loopback object store of a durable broker (None when in memory)."""
        return self._objects

    @property
    def in_memory(self) -> bool:
        return self.data_dir is None

    @property
    def storage(self) -> str:
        return MEMORY_STORAGE if self.data_dir is None else S3_STORAGE

    def settings(self) -> KafkaSettings:
        """Client settings for this broker (embedded profile)."""
        return KafkaSettings(bootstrap=self.bootstrap, broker_profile=BrokerProfile.EMBEDDED)

    def _argv(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV and not k.startswith("AWS_")}
        if self._objects is not None:
            # Always set the keys: without them tansu asks the cloud metadata address.
            env.update(
                AWS_ENDPOINT=self._objects.endpoint,
                AWS_ALLOW_HTTP="true",
                AWS_ACCESS_KEY_ID="agency-bus-local",
                AWS_SECRET_ACCESS_KEY="agency-bus-local",
                AWS_DEFAULT_REGION="us-east-1",
            )
        return env

    async def start(self) -> None:
        """Start the object store (if durable), then the broker; return once it answers."""
        if self._proc is not None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.data_dir is not None:
                self._objects = ObjectStoreProcess(
                    self.data_dir, free_port(self.host), self.log_dir / "objectstore.log"
                )
                await self._objects.start()
            self._proc = spawn(self._argv(), env=self._env(), log_path=self.log_path)
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise BrokerStartError(
                    f"embedded broker on {self.bootstrap} exited with code "
                    f"{self._proc.returncode} during start-up:\n{log_tail(self.log_path)}",
                    hint=f"is port {self.port} already in use? see {self.log_path}",
                    retriable=False,
                )
            try:
                await self._probe()
                return
            except (TimeoutError, OSError, BrokerError) as exc:
                last_error = str(exc) or type(exc).__name__
                await asyncio.sleep(0.05)
        raise BrokerStartError(
            f"embedded broker on {self.bootstrap} did not answer within "
            f"{self.start_timeout_s:.0f} s ({last_error})",
            hint=f"see {self.log_path}",
        )

    async def _probe(self) -> None:
        _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 1.0)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        admin = make_admin(self.settings())
        try:
            await asyncio.wait_for(admin.start(), 2.0)
            await asyncio.wait_for(admin.describe_cluster(), 2.0)
        except Exception as exc:
            raise BrokerError(f"metadata not ready: {exc!r}") from exc
        finally:
            await admin.close()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s (tansu needs 2-7 s); the object store last."""
        proc, self._proc = self._proc, None
        if proc is not None:
            await asyncio.get_running_loop().run_in_executor(None, terminate, proc)
        objects, self._objects = self._objects, None
        if objects is not None:
            await objects.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
