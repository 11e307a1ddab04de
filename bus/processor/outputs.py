"""What one input turns into: records to produce, all confirmed before its offset is committed."""

from __future__ import annotations

from dataclasses import dataclass

from bus.event.dead_letter import HeaderList as Headers
from bus.ids import TopicName


@dataclass(frozen=True, slots=True)
class Output:
    topic: TopicName
    key: bytes | None
    value: bytes | None
    headers: Headers


_NOT_FORWARDED = frozenset({"bus_signature", "bus_sig_proof", "bus_sig_key", "bus_changed", "bus_agreement"})


def delivery_headers(
    original: Headers, ce_type: str, agreement_id: str, changed: tuple[str, ...] | None
) -> Headers:
    """The ingress headers as delivered: same id, subject, time and sequence; the projected record's
    ``ce_type``; only granted changed paths; ``bus_agreement``; no provider signature (it covered the
    full record, not the projection)."""
    headers: Headers = [
        (name, ce_type.encode() if name == "ce_type" else value)
        for name, value in original
        if name not in _NOT_FORWARDED
    ]
    if changed is not None:
        headers.append(("bus_changed", ",".join(changed).encode()))
    headers.append(("bus_agreement", agreement_id.encode()))
    return headers


def forwarded(original: Headers) -> Headers:
    """The ingress headers every delivery of one input starts from (computed once per input)."""
    return [(name, value) for name, value in original if name not in _NOT_FORWARDED]


def delivery_headers_from(
    base: Headers, ce_type: bytes, agreement_id: str, changed: tuple[str, ...] | None
) -> Headers:
    """``delivery_headers`` from the ``forwarded`` headers of an input: the same list, cheaper."""
    headers: Headers = [(name, ce_type if name == "ce_type" else value) for name, value in base]
    if changed is not None:
        headers.append(("bus_changed", ",".join(changed).encode()))
    headers.append(("bus_agreement", agreement_id.encode()))
    return headers
