"""The loopback object store honours the S3 semantics tansu relies on, over real HTTP."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bus.broker.datadir import DataDirInUse
from bus.broker.objectstore.process import BUCKET, ObjectStoreProcess
from bus.broker.ports import free_port


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ObjectStoreProcess]:
    process = ObjectStoreProcess(tmp_path / "data", free_port(), tmp_path / "objectstore.log")
    await process.start()
    yield process
    await process.stop()


@pytest.fixture
def http(store: ObjectStoreProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{store.endpoint}/{BUCKET}", timeout=10) as client:
        yield client


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def test_put_then_get_returns_body_and_its_etag(http: httpx.Client) -> None:
    put = http.put("/topics/t/watermark.json", content=b'{"high": 1}')
    got = http.get("/topics/t/watermark.json")
    assert put.status_code == 200
    assert got.content == b'{"high": 1}'
    assert got.headers["etag"] == put.headers["etag"] == md5_etag(b'{"high": 1}')


def test_create_only_put_on_existing_object_is_412(http: httpx.Client) -> None:
    http.put("/r/0.batch", content=b"first")
    second = http.put("/r/0.batch", content=b"second", headers={"If-None-Match": "*"})
    assert second.status_code == 412
    assert "PreconditionFailed" in second.text
    assert http.get("/r/0.batch").content == b"first"


def test_create_only_put_on_new_object_succeeds(http: httpx.Client) -> None:
    assert http.put("/r/1.batch", content=b"x", headers={"If-None-Match": "*"}).status_code == 200


def test_if_match_with_a_stale_etag_is_412(http: httpx.Client) -> None:
    stale = http.put("/w.json", content=b"v1").headers["etag"]
    http.put("/w.json", content=b"v2")
    result = http.put("/w.json", content=b"v3", headers={"If-Match": stale})
    assert result.status_code == 412
    assert http.get("/w.json").content == b"v2"


def test_if_match_on_a_missing_object_is_412(http: httpx.Client) -> None:
    assert http.put("/absent.json", content=b"v", headers={"If-Match": md5_etag(b"v")}).status_code == 412


def test_if_match_with_the_current_etag_updates(http: httpx.Client) -> None:
    current = http.put("/w.json", content=b"v1").headers["etag"]
    assert http.put("/w.json", content=b"v2", headers={"If-Match": current}).status_code == 200
    assert http.get("/w.json").content == b"v2"


def test_conditional_get_answers_304_when_unchanged(http: httpx.Client) -> None:
    etag = http.put("/meta.json", content=b"{}").headers["etag"]
    assert http.get("/meta.json", headers={"If-None-Match": etag}).status_code == 304


def test_missing_object_is_404_no_such_key(http: httpx.Client) -> None:
    result = http.get("/nothing/here")
    assert result.status_code == 404
    assert "<Code>NoSuchKey</Code>" in result.text


def test_delete_removes_the_object(http: httpx.Client) -> None:
    http.put("/gone", content=b"x")
    assert http.delete("/gone").status_code == 204
    assert http.get("/gone").status_code == 404


def test_range_get_returns_the_requested_bytes(http: httpx.Client) -> None:
    http.put("/ranged", content=b"0123456789")
    result = http.get("/ranged", headers={"Range": "bytes=2-5"})
    assert (result.status_code, result.content) == (206, b"2345")
    assert result.headers["content-range"] == "bytes 2-5/10"


def test_head_reports_size_and_etag_without_body(http: httpx.Client) -> None:
    http.put("/h", content=b"abc")
    result = http.head("/h")
    assert result.headers["content-length"] == "3"
    assert result.headers["etag"] == md5_etag(b"abc")


def test_path_traversal_keys_are_refused(http: httpx.Client, store: ObjectStoreProcess) -> None:
    result = http.put("/a/%2E%2E/%2E%2E/escape", content=b"x")
    assert result.status_code in (400, 404)
    assert not (store.data_dir / "escape").exists()


def test_listing_pages_through_every_key_in_order(http: httpx.Client) -> None:
    keys = [f"p/records/{i:05d}.batch" for i in range(25)]
    for key in keys:
        http.put(f"/{key}", content=b"x")
    listed: list[str] = []
    token = None
    while True:
        params = {"list-type": "2", "prefix": "p/records/", "max-keys": "10"}
        if token:
            params["continuation-token"] = token
        page = http.get("", params=params).text
        listed += [part.split("</Key>")[0] for part in page.split("<Key>")[1:]]
        if "<IsTruncated>true</IsTruncated>" not in page:
            break
        token = page.split("<NextContinuationToken>")[1].split("<")[0]
    assert listed == keys


def test_listing_with_delimiter_groups_common_prefixes(http: httpx.Client) -> None:
    for key in ("t/a/1", "t/a/2", "t/b/1", "t/top"):
        http.put(f"/{key}", content=b"x")
    page = http.get("", params={"list-type": "2", "prefix": "t/", "delimiter": "/"}).text
    assert "<Prefix>t/a/</Prefix>" in page
    assert "<Prefix>t/b/</Prefix>" in page
    assert "<Key>t/top</Key>" in page
    assert "<Key>t/a/1</Key>" not in page


def test_concurrent_if_match_increments_never_lose_an_update(store: ObjectStoreProcess) -> None:
    # given a counter object and 8 writers doing optimistic read-modify-write
    url = f"{store.endpoint}/{BUCKET}/counter"
    httpx.put(url, content=b"0")
    per_writer = 25

    def writer() -> None:
        with httpx.Client(timeout=10) as client:
            done = 0
            while done < per_writer:
                current = client.get(url)
                value = int(current.content) + 1
                result = client.put(
                    url, content=str(value).encode(), headers={"If-Match": current.headers["etag"]}
                )
                if result.status_code == 200:
                    done += 1
                else:
                    assert result.status_code == 412

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every increment counted exactly once
    assert httpx.get(url).content == str(8 * per_writer).encode()


def test_get_racing_put_never_mixes_versions(store: ObjectStoreProcess) -> None:
    # given a writer replacing an object with distinct bodies of varying size
    url = f"{store.endpoint}/{BUCKET}/racy"
    httpx.put(url, content=b"seed")
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(300):
                client.put(url, content=(f"version-{i}-".encode() * (1 + i % 50)))
        stop.set()

    thread = threading.Thread(target=write)
    thread.start()
    # when a reader GETs while it writes
    mismatches = reads = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            result = client.get(url)
            reads += 1
            mismatches += result.headers["etag"] != md5_etag(result.content)
    thread.join()
    # then every body came with its own ETag
    assert reads > 0
    assert mismatches == 0


async def test_second_store_on_the_same_data_dir_is_refused(
    store: ObjectStoreProcess, tmp_path: Path
) -> None:
    twin = ObjectStoreProcess(store.data_dir, free_port(), tmp_path / "twin.log")
    with pytest.raises(DataDirInUse, match=f"{store.data_dir} is already in use by pid {store.pid}"):
        await twin.start()
