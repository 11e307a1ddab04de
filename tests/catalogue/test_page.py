# ruff: noqa: RUF001  -- Kazakh and Russian text: Cyrillic letters are meant, not look-alikes
"""/catalogue: the developer portal's page, in a real headless Chromium with JavaScript off."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx

from bus.gateway.catalogue_page import COOKIE
from tests.support.browser import chromium
from tests.support.eventually import eventually_sync
from tests.tracker.stack import Stack


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the 8-byte signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_page_shows_record_types_and_agreements_without_script(stack: Stack, tmp_path: Path) -> None:
    provider = stack.world.provider
    with chromium(tmp_path / "profile", javascript=False) as browser:
        # given an agency developer signing in once with their token
        page = browser.new_page()
        page.goto(f"{stack.url}/catalogue?lang=en&token={stack.tokens['tax']}")
        assert "token=" not in page.url

        # then the page lists the provider's record type, its documented fields and its agreements
        assert page.get_by_role("heading", level=1).inner_text() == "Data catalogue"
        section = page.locator(f'section[data-provider="{provider}"][data-record-type="person"]')
        assert section.get_by_role("heading", level=2).inner_text() == "person — Civil registry"
        settlement = section.locator('tr[data-field="registered_address.settlement"]')
        assert "City, town or village." in settlement.inner_text()
        rows = section.locator("table.agreements tbody tr")
        assert {rows.nth(i).get_attribute("data-agreement") for i in range(rows.count())} == {
            stack.tax.id,
            stack.health.id,
        }
        assert "Law on tax, Art. 1" in section.locator(f'tr[data-agreement="{stack.tax.id}"]').inner_text()
        assert page.locator("script").count() == 0

        # and the rendered page is painted: the section has a size, the screenshot covers it
        box = section.bounding_box()
        assert box is not None
        assert box["height"] > 200
        shot = page.screenshot(path=tmp_path / "catalogue.png", full_page=True)
        width, height = _png_size(shot)
        assert width > 0
        assert height >= box["y"] + box["height"]
        blank = browser.new_page()
        blank.set_content("<!doctype html><title>blank</title>")
        assert len(shot) > 4 * len(blank.screenshot(full_page=True))


def test_the_page_speaks_kazakh_and_russian(stack: Stack) -> None:
    cookie = {COOKIE: stack.tokens["tax"]}
    kazakh = httpx.get(
        f"{stack.url}/catalogue", cookies=cookie, headers={"Accept-Language": "kk-KZ,ru;q=0.8"}
    )
    assert '<html lang="kk">' in kazakh.text
    assert "Деректер каталогы" in kazakh.text
    russian = httpx.get(f"{stack.url}/catalogue?lang=ru", cookies=cookie)
    assert "Соглашения об обмене данными" in russian.text
    assert "script-src 'self'" in russian.headers["content-security-policy"]


def test_without_a_token_the_page_asks_to_sign_in(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/catalogue", headers={"Accept-Language": "ru"})
    assert response.status_code == 401
    assert "Войдите с токеном вашего ведомства." in response.text


def test_text_from_an_agreement_is_escaped(stack: Stack) -> None:
    hostile = stack.world.agreement("police", ("iin",), purpose="<img src=x onerror=alert(1)>")
    stack.run(stack.world.apply(hostile))
    try:

        def page() -> str | None:
            text = httpx.get(f"{stack.url}/catalogue", headers=stack.headers("tax")).text
            return text if hostile.id in text else None

        text = eventually_sync(page, timeout_s=10)
        assert "<img" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
    finally:
        stack.run(stack.world.apply(revoke=[hostile.id]))
