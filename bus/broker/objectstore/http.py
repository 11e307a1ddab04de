"""The S3 REST subset tansu's object_store client uses, over ``FileStore``.

Path-style requests only (``/<bucket>/<key>``), bound to loopback; request signatures
are not checked because nothing but the local broker can reach the port.
"""

from __future__ import annotations

import asyncio
import base64
from email.utils import format_datetime
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bus.broker.objectstore.files import FileStore, ObjectInfo, ObjectStoreError

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _error(exc: ObjectStoreError, resource: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{exc.code}</Code>'
        f"<Message>{escape(exc.message)}</Message><Resource>{escape(resource)}</Resource></Error>"
    )
    return Response(body, status_code=exc.status, media_type="application/xml")


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    return {
        "ETag": info.etag,
        "Last-Modified": format_datetime(info.last_modified, usegmt=True),
        "Accept-Ranges": "bytes",
    }


def _iso(info: ObjectInfo) -> str:
    return info.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Inclusive (first, last) for a single ``bytes=`` range, or None if unsatisfiable."""
    spec = header.removeprefix("bytes=").split(",")[0].strip()
    first_text, _, last_text = spec.partition("-")
    if not first_text:
        length = int(last_text)
        return (max(size - length, 0), size - 1) if length and size else None
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    return (first, last) if first <= last else None


class S3App:
    """Starlette routes; blocking file work runs in threads so requests overlap."""

    def __init__(self, store: FileStore) -> None:
        self.store = store
        self.app = Starlette(
            routes=[
                Route("/{bucket}", self.bucket, methods=["GET", "HEAD", "PUT"]),
                Route("/{bucket}/", self.bucket, methods=["GET", "HEAD", "PUT"]),
                Route("/{bucket}/{key:path}", self.object, methods=["GET", "HEAD", "PUT", "DELETE", "POST"]),
            ]
        )

    async def bucket(self, request: Request) -> Response:
        bucket = request.path_params["bucket"]
        try:
            if request.method == "PUT":
                await asyncio.to_thread(self.store.create_bucket, bucket)
                return Response(status_code=200)
            if request.method == "HEAD":
                exists = await asyncio.to_thread(self.store.bucket_exists, bucket)
                return Response(status_code=200 if exists else 404)
            return await self._list(request, bucket)
        except ObjectStoreError as exc:
            return _error(exc, f"/{bucket}")

    async def _list(self, request: Request, bucket: str) -> Response:
        query = request.query_params
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        token = query.get("continuation-token")
        start_after = base64.urlsafe_b64decode(token).decode() if token else query.get("start-after", "")
        max_keys = max(0, min(int(query.get("max-keys", "1000")), 1000))
        objects, prefixes, truncated = await asyncio.to_thread(
            self.store.list_objects,
            bucket,
            prefix=prefix,
            start_after=start_after,
            max_keys=max_keys,
            delimiter=delimiter,
        )
        parts = [
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">',
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
            f"<KeyCount>{len(objects) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if token:
            parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if truncated:
            last = max([o.key for o in objects] + prefixes)
            next_token = base64.urlsafe_b64encode(last.encode()).decode()
            parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        for info in objects:
            parts.append(
                f"<Contents><Key>{escape(info.key)}</Key><LastModified>{_iso(info)}"
                f"</LastModified><Size>{info.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        for common in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{escape(common)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return Response("".join(parts), media_type="application/xml")

    async def object(self, request: Request) -> Response:
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        try:
            if request.method in ("GET", "HEAD"):
                return await self._get(request, bucket, key)
            if request.method == "PUT":
                if "x-amz-copy-source" in request.headers:
                    return Response("copy is not supported", status_code=501)
                body = await request.body()
                info = await asyncio.to_thread(
                    self.store.put,
                    bucket,
                    key,
                    body,
                    if_match=request.headers.get("if-match"),
                    if_none_match=request.headers.get("if-none-match"),
                )
                return Response(status_code=200, headers={"ETag": info.etag})
            if request.method == "DELETE":
                await asyncio.to_thread(self.store.delete, bucket, key)
                return Response(status_code=204)
            return Response("multipart upload is not supported", status_code=501)
        except ObjectStoreError as exc:
            return _error(exc, f"/{bucket}/{key}")

    async def _get(self, request: Request, bucket: str, key: str) -> Response:
        info, body = await asyncio.to_thread(self.store.get, bucket, key)
        headers = _object_headers(info)
        if_match = request.headers.get("if-match")
        if if_match is not None and if_match.strip() not in ("*", info.etag, info.etag.strip('"')):
            return Response(status_code=412, headers=headers)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and if_none_match.strip() in ("*", info.etag, info.etag.strip('"')):
            return Response(status_code=304, headers=headers)
        status = 200
        range_header = request.headers.get("range")
        if range_header:
            span = _byte_range(range_header, info.size)
            if span is None:
                headers["Content-Range"] = f"bytes */{info.size}"
                return Response(status_code=416, headers=headers)
            first, last = span
            body = body[first : last + 1]
            headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
            status = 206
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            body = b""
        return Response(body, status_code=status, headers=headers, media_type="application/octet-stream")
