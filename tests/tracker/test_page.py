"""/tracker/{key}: the person's page, in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from bus.event.envelope import ChangeKind
from bus.gateway.page import COOKIE
from connectors.sdk import Change
from tests.people import person
from tests.support.browser import chromium
from tests.support.eventually import eventually_sync
from tests.support.world import update
from tests.tracker.stack import Stack


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path / "profile") as context:
        yield context


def test_a_person_revokes_consent_and_sees_the_next_change_refused(
    stack: Stack, browser: BrowserContext
) -> None:
    citizen = person(9501)
    consent = {"subject": citizen["iin"], "consumer": stack.health.consumer, "purpose": stack.health.purpose}
    assert stack.post("/v1/consent", "portal", {**consent, "action": "grant"}).status_code == 201
    [created] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: _decided(stack, citizen["iin"], created) == 2)

    # given the person's page, opened through the portal (demo sign-in: the token once, in the URL)
    page: Page = browser.new_page()
    page.goto(f"{stack.url}/tracker/{citizen['iin']}?lang=ru&token={stack.tokens['portal']}")
    assert "token=" not in page.url
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.get_by_role("heading", level=1).inner_text() == "Кто использовал мои данные"
    delivered = page.locator(f'#timeline tr[data-event="{created}"][data-decision="delivered"]')
    assert delivered.count() == 2

    # when they press "Revoke" on their consent to the health agency
    page.get_by_role("button", name=re.compile(r"^Отозвать: health agency")).click()
    page.wait_for_url(re.compile(r"done=revoked"))
    assert page.get_by_role("status").inner_text() == "Согласие отозвано."
    row = page.locator(f'#consents tr[data-consumer="{stack.health.consumer}"]')
    assert row.get_attribute("data-status") == "revoked"
    assert row.get_by_role("button").inner_text() == "Дать согласие"

    # and the civil registry then records a change of their surname
    [renamed] = stack.run(stack.world.publish(update(citizen, ["surname"], surname="Renamed")))

    # then the page (refreshing itself after the change) shows it refused with consent_revoked
    refusal = page.locator(f'#timeline tr[data-event="{renamed}"][data-reason="consent_revoked"]')
    refusal.wait_for(timeout=30_000)
    assert "Вы отозвали своё согласие" in refusal.inner_text()
    assert "consent_revoked" in refusal.inner_text()
    assert (
        page.locator(f'#timeline tr[data-event="{renamed}"][data-decision="delivered"]').count() == 1
    )  # tax


def test_the_page_is_accessible_in_kazakh(stack: Stack, browser: BrowserContext) -> None:
    citizen = person(9502)
    [created] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: _decided(stack, citizen["iin"], created) == 2)
    browser.add_cookies([{"name": COOKIE, "value": stack.tokens["portal"], "url": stack.url}])
    page = browser.new_page()
    page.set_extra_http_headers({"Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.8"})
    page.goto(f"{stack.url}/tracker/{citizen['iin']}")
    assert page.locator("html").get_attribute("lang") == "kk"
    # every column is a header of its table, every button says what it does and to whom
    assert page.locator("#timeline th[scope=col]").count() == 8
    buttons = page.get_by_role("button")
    assert buttons.count() == 1  # B-style refusal for want of consent: offer to grant it
    assert buttons.first.get_attribute("aria-label") == (
        f"Келісім беру: health agency — {stack.health.purpose}"  # noqa: RUF001
    )
    assert page.get_by_role("navigation").get_by_role("link", name="English").count() == 1


def _decided(stack: Stack, key: str, event_id: str) -> int:
    response = stack.get(f"/v1/audit/subjects/{key}", "auditor")
    return sum(1 for i in response.json()["items"] if i["event_id"] == event_id)


def test_without_a_portal_token_the_page_says_so(stack: Stack) -> None:
    key = person(9503)["iin"]
    anonymous = httpx.get(f"{stack.url}/tracker/{key}", headers={"Accept-Language": "ru"})
    assert anonymous.status_code == 401
    assert "Войдите через портал." in anonymous.text
    agency = httpx.get(f"{stack.url}/tracker/{key}", headers=stack.headers("tax"))
    assert agency.status_code == 403
    assert '<html lang="en">' in agency.text


def test_a_forged_consent_form_is_refused(stack: Stack) -> None:
    key = person(9504)["iin"]
    form = {"consumer": stack.health.consumer, "purpose": stack.health.purpose, "action": "grant"}
    response = httpx.post(
        f"{stack.url}/tracker/{key}/consent",
        data={**form, "form_key": "0" * 32},
        headers=stack.headers("portal"),
    )
    assert response.status_code == 403
    assert stack.get(f"/v1/consent/subjects/{key}", "portal").json()["consents"] == []


def test_text_from_the_archive_is_escaped(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/tracker/<img src=x onerror=alert(1)>", headers=stack.headers("portal"))
    assert response.status_code == 200
    assert "<img" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
