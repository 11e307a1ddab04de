"""Objects as files: atomic, fsynced writes and the conditional updates tansu relies on.

tansu updates each partition's ``watermark.json`` with ``If-Match`` and creates each
``.batch`` with ``If-None-Match: *``; a store that ignores either loses acknowledged
records. ETags are the MD5 of the bytes, computed from the very bytes returned, so a
GET racing a PUT can never pair one version's body with another's ETag.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bus.errors import BusError

TMP_PREFIX = ".tmp-"
_STRIPES = 256


class ObjectStoreError(BusError):
    code = "objectstore_error"
    status = 500


class NoSuchBucket(ObjectStoreError):
    code = "NoSuchBucket"
    status = 404


class NoSuchKey(ObjectStoreError):
    code = "NoSuchKey"
    status = 404


class PreconditionFailed(ObjectStoreError):
    code = "PreconditionFailed"
    status = 412


class InvalidKey(ObjectStoreError):
    code = "InvalidArgument"
    status = 400


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    last_modified: datetime


def etag_of(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _same_etag(given: str, actual: str) -> bool:
    return given.strip() == "*" or given.strip().strip('"') == actual.strip('"')


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Buckets are directories under ``root``; keys are relative paths inside them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def _bucket_dir(self, bucket: str) -> Path:
        if not bucket or "/" in bucket or bucket.startswith("."):
            raise InvalidKey(f"bucket name {bucket!r} is not valid", hint="use a plain name")
        return self.root / bucket

    def _path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or any(p.startswith(TMP_PREFIX) for p in parts)
        ):
            raise InvalidKey(f"object key {key!r} is not valid", hint="keys are relative paths")
        bucket_dir = self._bucket_dir(bucket)
        if not bucket_dir.is_dir():
            raise NoSuchBucket(f"bucket {bucket!r} does not exist", hint="create the bucket first")
        return bucket_dir.joinpath(*parts)

    def _lock(self, bucket: str, key: str) -> threading.Lock:
        return self._locks[hash((bucket, key)) % _STRIPES]

    def create_bucket(self, bucket: str) -> None:
        path = self._bucket_dir(bucket)
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root)

    def bucket_exists(self, bucket: str) -> bool:
        return self._bucket_dir(bucket).is_dir()

    def get(self, bucket: str, key: str) -> tuple[ObjectInfo, bytes]:
        """Body and metadata read through one file handle (atomic renames keep it whole)."""
        path = self._path(bucket, key)
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                body = handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NoSuchKey(f"object {bucket}/{key} does not exist") from None
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        return ObjectInfo(key, etag_of(body), len(body), modified), body

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> ObjectInfo:
        """Write durably; enforce ``If-Match`` / ``If-None-Match: *`` atomically per key."""
        path = self._path(bucket, key)
        with self._lock(bucket, key):
            if if_match is not None or if_none_match is not None:
                self._check_preconditions(bucket, key, if_match, if_none_match)
            self._write_atomically(path, body)
        return ObjectInfo(key, etag_of(body), len(body), datetime.now(UTC))

    def _check_preconditions(
        self, bucket: str, key: str, if_match: str | None, if_none_match: str | None
    ) -> None:
        try:
            current: ObjectInfo | None = self.get(bucket, key)[0]
        except NoSuchKey:
            current = None
        if (
            if_none_match is not None
            and current is not None
            and (if_none_match.strip() == "*" or _same_etag(if_none_match, current.etag))
        ):
            raise PreconditionFailed(f"object {bucket}/{key} already exists (If-None-Match)")
        if if_match is not None and (current is None or not _same_etag(if_match, current.etag)):
            found = current.etag if current else "no object"
            raise PreconditionFailed(f"object {bucket}/{key} changed: If-Match {if_match} but found {found}")

    def _write_atomically(self, path: Path, body: bytes) -> None:
        created = self._make_parents(path.parent)
        tmp = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            with tmp.open("wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        for directory in created:
            _fsync_dir(directory.parent)

    def _make_parents(self, directory: Path) -> list[Path]:
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
        return missing

    def delete(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key)
        with self._lock(bucket, key):
            try:
                path.unlink()
            except FileNotFoundError:
                return
            _fsync_dir(path.parent)

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        start_after: str = "",
        max_keys: int = 1000,
        delimiter: str = "",
    ) -> tuple[list[ObjectInfo], list[str], bool]:
        """(objects, common prefixes, truncated) in key order, like ListObjectsV2."""
        bucket_dir = self._bucket_dir(bucket)
        if not bucket_dir.is_dir():
            raise NoSuchBucket(f"bucket {bucket!r} does not exist", hint="create the bucket first")
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = bucket_dir / base if base else bucket_dir
        entries: list[tuple[str, os.stat_result]] = []
        skip_common = bool(delimiter) and start_after.endswith(delimiter or "\0")
        for key, stat in self._walk(start, base):
            if not key.startswith(prefix) or key <= start_after:
                continue
            if skip_common and key.startswith(start_after):
                continue  # the previous page already returned this common prefix
            entries.append((key, stat))
        entries.sort()
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        seen_prefixes: set[str] = set()
        for key, stat in entries:
            if len(objects) + len(prefixes) >= max_keys:
                return objects, prefixes, True
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if common not in seen_prefixes:
                    seen_prefixes.add(common)
                    prefixes.append(common)
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            objects.append(ObjectInfo(key, "", stat.st_size, modified))
        return objects, prefixes, False

    def _walk(self, directory: Path, key_prefix: str) -> list[tuple[str, os.stat_result]]:
        found: list[tuple[str, os.stat_result]] = []
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            key = f"{key_prefix}/{entry.name}" if key_prefix else entry.name
            if entry.is_dir(follow_symlinks=False):
                found.extend(self._walk(Path(entry.path), key))
            elif entry.is_file(follow_symlinks=False):
                found.append((key, entry.stat()))
        return found
