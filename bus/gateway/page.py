"""``/tracker/{key}``: the one server-rendered page a person uses — their timeline and their consents.

Behind the citizen portal's token. In production the portal authenticates the person and proxies
the page with ``Authorization: Bearer <portal token>``. For demos, ``?token=`` once sets an HttpOnly,
SameSite=Strict cookie and redirects to the same address without it (the gateway keeps no access
log, so the token is never logged). Consent buttons are plain forms posted back here (they work
without JavaScript), checked against a per-token form key, and written through ``ConsentDesk``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bus.audit.query import SubjectQuery
from bus.directory.model import Principal
from bus.directory.tokens import credentials_from_header
from bus.errors import BusError, RecordInvalidError
from bus.gateway.access import authenticate, require_page_reader
from bus.gateway.consent_api import ConsentAction, ConsentChannel, ConsentDesk, ConsentIn
from bus.gateway.errors import NotAllowed, status_of
from bus.gateway.html import PAGE_HEADERS, document_head, e, error_page, language_links, signed_in
from bus.gateway.html import authorization as page_authorization
from bus.gateway.page_assets import CSS, JS
from bus.gateway.reads import ReadKind
from bus.gateway.tracker import Tracker, TrackerItem, TrackerPage
from bus.gateway.words import Lang, label, negotiate
from bus.policy.consent import ConsentRecord, ConsentStatus

COOKIE = "bus_portal_token"
PAGE_SIZE = 50
_ASKS_CONSENT = frozenset({"consent_missing", "consent_revoked", "consent_expired"})


def form_key(authorization: str | None, subject: str) -> str:
    """Ties a consent form to the token that rendered it and to the person (a CSRF guard)."""
    credentials = credentials_from_header(authorization)
    secret = credentials[1] if credentials else ""
    return hmac.new(secret.encode(), f"tracker-consent:{subject}".encode(), hashlib.sha256).hexdigest()[:32]


def _page_url(key: str, **params: str | None) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    return f"/tracker/{urllib.parse.quote(key, safe='')}" + (f"?{query}" if query else "")


class PageView:
    """Renders the page for one person; pure apart from the two reads it makes (both recorded)."""

    def __init__(self, tracker: Tracker, desk: ConsentDesk) -> None:
        self.tracker = tracker
        self.desk = desk

    async def render(
        self, principal: Principal, key: str, lang: Lang, *, cursor: str | None, done: str | None, form: str
    ) -> str:
        timeline = await self.tracker.page(
            principal, SubjectQuery(key, limit=PAGE_SIZE, cursor=cursor), lang, ReadKind.PAGE
        )
        consents = await self.desk.consents(principal, key)
        return self._document(key, lang, timeline, consents, done=done, form=form)

    def _document(
        self,
        key: str,
        lang: Lang,
        timeline: TrackerPage,
        consents: list[ConsentRecord],
        *,
        done: str | None,
        form: str,
    ) -> str:
        def t(name: str) -> str:
            return e(label(name, lang))

        languages = language_links(lang, lambda code: _page_url(key, lang=code))
        status = t(f"done_{done}") if done in ("granted", "revoked") else ""
        older = (
            f'<p><a rel="next" href="{e(_page_url(key, lang=lang.value, cursor=timeline.next_cursor))}">'
            f"{t('older')}</a></p>"
            if timeline.next_cursor
            else ""
        )
        head = document_head(lang, label("title", lang), "/tracker.css", "/tracker.js")
        return f"""{head}<body>
<a class="skip" href="#timeline">{t("timeline")}</a>
<header>
<h1>{t("title")}</h1>
<p>{t("subject")}: <strong id="subject">{e(key)}</strong></p>
<nav aria-label="{t("language")}"><ul>{languages}</ul></nav>
</header>
<main>
<p id="status" role="status" aria-live="polite">{status}</p>
<section id="consents" aria-labelledby="consents-heading">
<h2 id="consents-heading">{t("consents")}</h2>
{self._consents(key, lang, consents, timeline.items, form)}
</section>
<section id="timeline" aria-labelledby="timeline-heading" data-updated="{t("updated")}"
 data-watch="{"1" if done else "0"}">
<h2 id="timeline-heading">{t("timeline")}</h2>
<p><a id="refresh" href="{e(_page_url(key, lang=lang.value))}">{t("refresh")}</a></p>
<div class="scroll">
<table>
<thead><tr><th scope="col">{t("when")}</th><th scope="col">{t("agency")}</th>
<th scope="col">{t("decision")}</th><th scope="col">{t("fields")}</th><th scope="col">{t("purpose")}</th>
<th scope="col">{t("law")}</th><th scope="col">{t("replaces")}</th>
<th scope="col">{t("explanation")}</th></tr></thead>
{self._timeline(timeline.items, lang)}
</table>
</div>
{older}
</section>
</main>
</body>
</html>
"""

    def _timeline(self, items: list[TrackerItem], lang: Lang) -> str:
        if not items:
            empty = e(label("timeline_none", lang))
            return f'<tbody id="timeline-body"><tr><td colspan="8">{empty}</td></tr></tbody>'
        rows = []
        for item in items:
            who = item.consumer or item.provider
            reason = f" <code>{e(item.reason)}</code>" if item.reason else ""
            rows.append(
                f'<tr class="{e(item.decision.value)}" data-decision="{e(item.decision.value)}"'
                f' data-reason="{e(item.reason or "")}" data-event="{e(item.event_id)}">'
                f'<td><time datetime="{e(item.when.isoformat())}">{e(_when(item))}</time></td>'
                f"<td>{e(who.name or who.id)}</td>"
                f'<td class="decision-{e(item.decision.value)}">{e(label(item.decision.value, lang))}</td>'
                f"<td>{e(', '.join(item.fields) or '—')}</td>"
                f"<td>{e(item.purpose or '—')}{_code(item.purpose_code)}</td>"
                f"<td>{e(item.legal_basis or '—')}</td>"
                f"<td>{e(item.replaces or '—')}</td>"
                f"<td>{e(item.explanation)}{reason}</td></tr>"
            )
        return f'<tbody id="timeline-body">{"".join(rows)}</tbody>'

    def _consents(
        self, key: str, lang: Lang, consents: list[ConsentRecord], items: Iterable[TrackerItem], form: str
    ) -> str:
        rows: dict[tuple[str, str], ConsentRecord | None] = {(r.consumer, r.purpose): r for r in consents}
        for item in items:  # agencies refused for want of consent: offer to grant it
            if item.reason in _ASKS_CONSENT and item.consumer and item.purpose:
                rows.setdefault((item.consumer.id, item.purpose), None)
        if not rows:
            return f"<p>{e(label('consents_none', lang))}</p>"

        def t(name: str) -> str:
            return e(label(name, lang))

        body = []
        now = dt.datetime.now(dt.UTC)
        for (consumer, purpose), record in sorted(rows.items()):
            agency = self.tracker.party(consumer)
            status = record.status_at(now) if record is not None else None
            granted = status is ConsentStatus.GRANTED
            state = status.value if status is not None else "not_given"
            action = ConsentAction.REVOKE if granted else ConsentAction.GRANT
            since = _time(record.time) if record else "—"
            until = "—"
            if record is not None and record.status is ConsentStatus.GRANTED:
                until = _time(record.valid_until) if record.valid_until else t("no_end")
            name = agency.name or agency.id
            body.append(
                f'<tr data-consumer="{e(consumer)}" data-purpose="{e(purpose)}" data-status="{state}">'
                f"<td>{e(name)}</td><td>{e(purpose)}</td><td>{t(state)}</td><td>{since}</td>"
                f'<td class="until">{until}</td><td>'
                f'<form method="post" action="{e(_page_url(key) + "/consent")}">'
                f'<input type="hidden" name="consumer" value="{e(consumer)}">'
                f'<input type="hidden" name="purpose" value="{e(purpose)}">'
                f'<input type="hidden" name="action" value="{action.value}">'
                f'<input type="hidden" name="form_key" value="{e(form)}">'
                f'<input type="hidden" name="lang" value="{lang.value}">'
                f'<button type="submit" class="{action.value}"'
                f' aria-label="{t(action.value)}: {e(name)} — {e(purpose)}">'
                f"{t(action.value)}</button></form></td></tr>"
            )
        return (
            f'<div class="scroll"><table><thead><tr><th scope="col">{t("agency")}</th>'
            f'<th scope="col">{t("purpose")}</th><th scope="col">{t("status")}</th>'
            f'<th scope="col">{t("since")}</th><th scope="col">{t("until")}</th>'
            f'<th scope="col">{t("action")}</th></tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )


def _code(purpose_code: str | None) -> str:
    return f' <code class="purpose-code">{e(purpose_code)}</code>' if purpose_code else ""


def _time(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return f'<time datetime="{e(moment.isoformat())}">{e(moment.strftime("%Y-%m-%d %H:%M UTC"))}</time>'


def _when(item: TrackerItem) -> str:
    return item.when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _error_page(error: BusError, lang: Lang) -> HTMLResponse:
    heading = {401: "unauthenticated", 403: "forbidden"}.get(status_of(error), "error")
    return error_page(
        error, lang, stylesheet="/tracker.css", title=label("error", lang), heading=label(heading, lang)
    )


def router(view: PageView) -> APIRouter:
    api = APIRouter(tags=["tracker page"], include_in_schema=False)
    directory = view.tracker.directory

    def principal_for(authorization: str | None) -> Principal:
        principal = authenticate(directory, authorization, "the tracker page")
        require_page_reader(principal)
        return principal

    @api.get("/tracker.css")
    async def stylesheet() -> Response:
        return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @api.get("/tracker.js")
    async def script() -> Response:
        return Response(JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    @api.get("/tracker/{key}", response_class=HTMLResponse)
    async def tracker_page(
        request: Request,
        key: str,
        lang: Annotated[str | None, Query()] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        done: Annotated[str | None, Query(max_length=20)] = None,
        token: Annotated[str | None, Query(description="Demo only: sets the cookie.")] = None,
    ) -> Response:
        chosen = negotiate(lang, request.headers.get("accept-language"))
        try:
            if token is not None:  # demo sign-in: check it, keep it in a cookie, drop it from the URL
                principal_for(f"Bearer {token}")
                target = _page_url(key, lang=lang, cursor=cursor)
                return signed_in(request, target, cookie=COOKIE, token=token, path="/tracker")
            authorization = page_authorization(request, COOKIE)
            principal = principal_for(authorization)
            body = await view.render(
                principal, key, chosen, cursor=cursor, done=done, form=form_key(authorization, key)
            )
        except BusError as error:
            return _error_page(error, chosen)
        return HTMLResponse(body, headers=PAGE_HEADERS)

    @api.post("/tracker/{key}/consent")
    async def tracker_consent(request: Request, key: str) -> Response:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
        chosen = negotiate(form.get("lang"), request.headers.get("accept-language"))
        try:
            authorization = page_authorization(request, COOKIE)
            principal = principal_for(authorization)
            if not hmac.compare_digest(form.get("form_key", ""), form_key(authorization, key)):
                raise NotAllowed(
                    "this consent form was not issued to you for this person",
                    hint="reload the tracker page and press the button again",
                )
            change = ConsentIn(
                subject=key,
                consumer=form.get("consumer", ""),
                purpose=form.get("purpose", ""),
                action=ConsentAction(form.get("action", "")),
                channel=ConsentChannel.PORTAL,
            )
            record = await view.desk.change(principal, change)
        except ValueError:
            incomplete = RecordInvalidError("the consent form was incomplete", [], hint="reload the page")
            return _error_page(incomplete, chosen)
        except BusError as error:
            return _error_page(error, chosen)
        done = "granted" if record.status is ConsentStatus.GRANTED else "revoked"
        return RedirectResponse(
            _page_url(key, lang=chosen.value, done=done), status_code=303, headers=PAGE_HEADERS
        )

    return api
