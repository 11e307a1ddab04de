"""What agencies import is small, sorted and pinned (STYLE 6): a change here is an API change."""

from __future__ import annotations

from pathlib import Path

import bus.subscriber
import connectors.sdk


def test_publisher_sdk_exports_exactly_its_public_names() -> None:
    assert connectors.sdk.__all__ == ["Change", "Publisher", "SyncPublisher"]
    assert connectors.sdk.__all__ == sorted(connectors.sdk.__all__)
    assert all(hasattr(connectors.sdk, name) for name in connectors.sdk.__all__)


def test_subscriber_sdk_exports_exactly_its_public_names() -> None:
    assert bus.subscriber.__all__ == ["RunStats", "Subscriber", "Undeliverable", "Update"]
    assert bus.subscriber.__all__ == sorted(bus.subscriber.__all__)
    assert all(hasattr(bus.subscriber, name) for name in bus.subscriber.__all__)


def test_nothing_outside_the_subscriber_sdk_imports_its_private_modules() -> None:
    root = Path(__file__).parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("bus", "connectors", "bench", "tests", "docs")
        for path in (root / folder).rglob("*.*")
        if path.suffix in {".py", ".md"}
        and "bus/subscriber" not in path.as_posix()
        and path != Path(__file__)
        and "bus.subscriber._" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
