"""What agencies import is small, sorted and pinned (STYLE 6): a change here is an API change."""

from __future__ import annotations

import connectors.sdk


def test_publisher_sdk_exports_exactly_its_public_names() -> None:
    assert connectors.sdk.__all__ == ["Change", "Publisher", "SyncPublisher"]
    assert connectors.sdk.__all__ == sorted(connectors.sdk.__all__)
    assert all(hasattr(connectors.sdk, name) for name in connectors.sdk.__all__)
