"""Debian's Chromium driven by Playwright (``executable_path``): Playwright never downloads a browser here."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium(profile: Path, *, javascript: bool = True) -> Iterator[BrowserContext]:
    """A fresh headless profile in ``profile``; skips the test where Chromium is not installed."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it: apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            java_script_enabled=javascript,
        )
        try:
            yield context
        finally:
            context.close()
