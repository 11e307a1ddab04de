"""``SyncPublisher`` is ``Publisher`` with the ``await`` taken out: same methods, same signatures, typed."""

from __future__ import annotations

import inspect

from connectors.sdk import Publisher, SyncPublisher


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member, eval_str=True)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name == "__init__"
    }


def test_sync_publisher_has_every_public_method_of_publisher_with_the_same_signature() -> None:
    assert _public(SyncPublisher) == _public(Publisher)


def test_sync_publisher_has_the_same_properties_as_publisher() -> None:
    def properties(cls: type) -> set[str]:
        return {name for name, member in inspect.getmembers(cls) if isinstance(member, property)}

    assert properties(SyncPublisher) == properties(Publisher)
