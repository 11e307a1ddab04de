"""The gateway and the registry under abuse: tokens missing, forged or someone else's; oversized and
slow bodies; ids that try to climb out of their path. Real processes, real sockets."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiStack
from tests.people import person

IIN = person(3)["iin"]


def _person_json(n: int) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in person(n).items()}


def gateway_writes(stack: ApiStack) -> list[tuple[str, str, dict[str, Any]]]:
    consent = {"subject": IIN, "consumer": stack.other, "purpose": "p", "action": "grant"}
    return [
        ("POST", "/v1/events/person?kind=updated", {"json": _person_json(3)}),
        (
            "POST",
            "/v1/events:batch",
            {"json": {"events": [{"record_type": "person", "record": _person_json(3)}]}},
        ),
        ("POST", "/v1/consent", {"json": consent}),
        (
            "POST",
            f"/tracker/{IIN}/consent",
            {"data": {"consumer": stack.other, "purpose": "p", "action": "grant"}},
        ),
    ]


PRIVATE_READS = [f"/v1/audit/subjects/{IIN}", f"/v1/consent/subjects/{IIN}", f"/tracker/{IIN}"]


def _call(stack: ApiStack, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{stack.gateway_url}{path}", headers=headers, timeout=30, follow_redirects=False, **kwargs
    )


@pytest.mark.parametrize("who", ["missing", "forged", "malformed"])
def test_every_gateway_write_and_private_read_refuses_a_missing_or_forged_token(
    api_stack: ApiStack, who: str
) -> None:
    # given no token, a well-formed token nobody holds, or a header that is not a bearer token
    headers = {
        "missing": {},
        "forged": {"Authorization": f"Bearer {api_stack.tokens['forged']}"},
        "malformed": {"Authorization": "Basic Og=="},
    }[who]
    # when each write and each private read is tried; then each is 401
    for method, path, body in gateway_writes(api_stack):
        assert _call(api_stack, method, path, headers, **body).status_code == 401, path
    for path in PRIVATE_READS:
        assert _call(api_stack, "GET", path, headers).status_code == 401, path


def test_an_agency_token_cannot_write_consent_for_a_citizen(api_stack: ApiStack) -> None:
    # given a valid agency token; when it grants or posts a consent form; then 403
    for method, path, body in gateway_writes(api_stack)[2:]:
        answer = _call(api_stack, method, path, api_stack.bearer("other"), **body)
        assert answer.status_code == 403, (path, answer.text)


def test_an_auditor_or_portal_token_cannot_publish_events(api_stack: ApiStack) -> None:
    for who in ("auditor", "portal"):
        for method, path, body in gateway_writes(api_stack)[:2]:
            assert _call(api_stack, method, path, api_stack.bearer(who), **body).status_code == 403, (
                who,
                path,
            )


def test_another_agencys_token_publishes_only_under_that_agency(api_stack: ApiStack) -> None:
    # given the other agency's token; when it posts a person change
    answer = _call(
        api_stack, "POST", "/v1/events/person?kind=updated", api_stack.bearer("other"), json=_person_json(4)
    )
    # then it lands on the other agency's own ingress topic, never on the provider's
    assert answer.status_code == 201, answer.text
    assert answer.json()["topic"] == f"ingress.{api_stack.other}.person"


REGISTRY_WRITES = [
    ("POST", "/subjects/{subject}/versions", {"schema": '"string"'}),
    ("DELETE", "/subjects/{subject}", None),
    ("DELETE", "/subjects/{subject}/versions/1", None),
    ("PUT", "/config/{subject}", {"compatibility": "NONE"}),
    ("DELETE", "/config/{subject}", None),
    ("PUT", "/config", {"compatibility": "NONE"}),
]


@pytest.mark.parametrize(("who", "status"), [("missing", 401), ("forged", 401), ("other", 403)])
def test_every_registry_write_on_an_agencys_subject_refuses_other_tokens(
    api_stack: ApiStack, who: str, status: int
) -> None:
    # given the provider's ingress subject and a missing, forged or other agency's token
    subject = f"ingress.{api_stack.provider}.person-value"
    headers = {} if who == "missing" else api_stack.bearer(who)
    for method, template, body in REGISTRY_WRITES:
        # when each write is tried; then it is refused and nothing changed
        answer = httpx.request(
            method, api_stack.registry_url + template.format(subject=subject), json=body, headers=headers
        )
        assert answer.status_code == status, (method, template, answer.text)
    versions = httpx.get(f"{api_stack.registry_url}/subjects/{subject}/versions")
    assert versions.json() == [1]


def test_an_oversized_body_is_refused_with_413_declared_or_streamed(api_stack: ApiStack) -> None:
    # given bodies above the gateway's 4 MiB and the registry's 1 MiB limits
    big = b'{"events": [' + b" " * (5 << 20) + b"]}"

    def streamed() -> Any:
        for start in range(0, len(big), 1 << 16):
            yield big[start : start + (1 << 16)]

    headers = {**api_stack.bearer("provider"), "content-type": "application/json"}
    # when they are sent with a Content-Length, and chunked without one; then 413
    declared = httpx.post(f"{api_stack.gateway_url}/v1/events:batch", content=big, headers=headers)
    chunked = httpx.post(f"{api_stack.gateway_url}/v1/events:batch", content=streamed(), headers=headers)
    registry = httpx.post(
        f"{api_stack.registry_url}/subjects/ingress.{api_stack.provider}.person-value/versions",
        content=b'{"schema": "' + b" " * (2 << 20) + b'"}',
        headers={"Authorization": f"Bearer {api_stack.operator_token}", "content-type": "application/json"},
    )
    assert (declared.status_code, chunked.status_code, registry.status_code) == (413, 413, 413)
    assert declared.json()["error"] == "payload_too_large"


def test_a_record_under_the_body_limit_but_over_a_produce_request_is_413_alone_or_in_a_batch(
    api_stack: ApiStack,
) -> None:
    # given a person whose surname alone is 3 MiB: under the 4 MiB body limit, over the 1 MiB request
    huge = {**_person_json(5), "surname": "S" * (3 << 20)}
    url, headers = api_stack.gateway_url, api_stack.bearer("provider")
    # when it is posted alone, and in a batch after a record that fits
    alone = httpx.post(f"{url}/v1/events/person", json=huge, headers=headers, timeout=30)
    events = [{"record_type": "person", "record": r} for r in (_person_json(6), huge)]
    batch = httpx.post(f"{url}/v1/events:batch", json={"events": events}, headers=headers, timeout=30)
    # then never a 500: the oversized record is refused by name, the one that fits is accepted
    assert (alone.status_code, alone.json()["error"]) == (413, "record_too_large")
    assert batch.status_code == 207, batch.text
    assert [r["status"] for r in batch.json()["results"]] == [201, 413]


TRAVERSALS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Cwindows",
    "%00",
    "....//....//etc",
]


@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_ids_that_climb_out_of_their_path_are_just_unknown_ids(api_stack: ApiStack, attempt: str) -> None:
    # given an id that tries to reach a file, in every id-taking path of both APIs
    gateway = [f"/v1/audit/subjects/{attempt}", f"/v1/consent/subjects/{attempt}"]
    registry = [f"/subjects/{attempt}/versions", f"/schemas/ids/{attempt}", f"/config/{attempt}"]
    answers = [_call(api_stack, "GET", path, api_stack.bearer("auditor")) for path in gateway]
    answers += [_call(api_stack, "GET", f"/tracker/{attempt}", api_stack.bearer("portal"))]
    answers += [_call(api_stack, "POST", f"/v1/events/{attempt}", api_stack.bearer("provider"), json={})]
    answers += [httpx.get(api_stack.registry_url + path) for path in registry]
    # when they are read; then each is an ordinary answer about an unknown id, never a file, never a 5xx
    for answer in answers:
        assert answer.status_code < 500, (answer.request.url, answer.text)
        assert answer.status_code in (200, 400, 404, 405, 422), (answer.request.url, answer.status_code)
        assert "root:" not in answer.text


def _raw_request(stack: ApiStack, head: bytes) -> socket.socket:
    host, port = stack.gateway_url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=10)
    conn.sendall(head)
    return conn


def test_a_body_sent_byte_by_byte_is_cut_off_with_408(api_stack: ApiStack) -> None:
    # given a gateway that allows 1 s for a request body, and a client that announces 200 bytes
    head = (
        "POST /v1/events/person HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_stack.tokens['provider']}\r\nContent-Length: 200\r\n\r\n"
    ).encode()
    conn = _raw_request(api_stack, head)
    started = time.monotonic()
    # when it sends one byte every 0.2 s
    answer = b""
    try:
        for _ in range(60):
            try:
                conn.sendall(b" ")
            except OSError:
                break
            conn.settimeout(0.2)
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
    finally:
        conn.close()
    # then within about the timeout it is answered 408 and the connection is closed
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request_timeout" in answer or b"connection: close" in answer.lower()
    assert time.monotonic() - started < 3.0


def _whole_response(conn: socket.socket) -> bytes:
    """Headers and the Content-Length body, however many packets they came in."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(4096)
    return data


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(api_stack: ApiStack) -> None:
    # given a client that made one request on a keep-alive connection
    conn = _raw_request(api_stack, b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    conn.settimeout(15)
    assert _whole_response(conn).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    # when it then sends nothing; then the server closes it after its keep-alive timeout (5 s)
    try:
        assert conn.recv(1) == b""
    finally:
        conn.close()
    assert time.monotonic() - started < 8
