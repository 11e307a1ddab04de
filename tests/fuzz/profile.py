"""Which Hypothesis profile the fuzz tests run under (see tests/fuzz/conftest.py)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz-ci", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long",
    max_examples=8_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz_settings(share: float = 1.0) -> settings:
    """The active fuzz profile, with ``share`` of its examples (cheap tests get more than 1)."""
    name = os.environ.get("BUS_FUZZ_PROFILE") or settings.get_current_profile_name()
    if name not in ("long", "fuzz-ci"):
        name = "fuzz-ci"
    chosen = settings.get_profile(name)
    return settings(chosen, max_examples=max(1, int(chosen.max_examples * share)))
