"""``/catalogue``: the developer portal's page of record types and agreements, server-rendered.

It works without JavaScript (there is none) under the tracker page's CSP, in Kazakh, Russian and
English. Any authenticated caller may open it, like ``GET /v1/catalogue``; a browser signs in once
with ``?token=`` (bus/gateway/html.py).
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bus.catalogue.model import AgreementEntry, Catalogue, RecordType
from bus.errors import BusError
from bus.gateway.access import authenticate
from bus.gateway.catalogue import CatalogueDesk
from bus.gateway.catalogue_words import catalogue_label
from bus.gateway.errors import status_of
from bus.gateway.html import PAGE_HEADERS, document_head, e, error_page, language_links, signed_in
from bus.gateway.html import authorization as page_authorization
from bus.gateway.page_assets import CSS
from bus.gateway.words import Lang, negotiate

COOKIE: Final = "bus_catalogue_token"
STYLESHEET: Final = "/catalogue.css"
CATALOGUE_CSS: Final = (
    CSS
    + """
nav.contents ul { flex-wrap: wrap; }
section.record-type { border-top: 2px solid var(--line); margin-top: 2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.optional { color: var(--muted); font-size: .85em; }
tr.not-in-force td { color: var(--muted); }
"""
)


def _url(**params: str | None) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    return "/catalogue" + (f"?{query}" if query else "")


def anchor(record_type: RecordType) -> str:
    return f"type-{record_type.provider}-{record_type.record_type}"


def render(catalogue: Catalogue, lang: Lang) -> str:
    """The whole page for one catalogue: pure, every value escaped."""

    def t(name: str) -> str:
        return e(catalogue_label(name, lang))

    languages = language_links(lang, lambda code: _url(lang=code))
    contents = "".join(
        f'<li><a href="#{e(anchor(rt))}">{e(rt.record_type)} — {e(rt.provider_name or rt.provider)}</a></li>'
        for rt in catalogue.record_types
    )
    sections = "".join(_record_type(rt, lang) for rt in catalogue.record_types) or f"<p>{t('empty')}</p>"
    unregistered = ""
    if catalogue.unregistered_agreements:
        unregistered = (
            f'<section id="unregistered" aria-labelledby="unregistered-heading">'
            f'<h2 id="unregistered-heading">{t("unregistered")}</h2>'
            f"{_agreements(catalogue.unregistered_agreements, lang)}</section>"
        )
    head = document_head(lang, catalogue_label("title", lang), STYLESHEET)
    return f"""{head}<body>
<header>
<h1>{t("title")}</h1>
<p>{t("intro")}</p>
<nav aria-label="{t("language")}"><ul>{languages}</ul></nav>
</header>
<main>
<nav class="contents" aria-label="{t("contents")}"><ul>{contents}</ul></nav>
<div id="record-types">{sections}</div>
{unregistered}
</main>
</body>
</html>
"""


def _record_type(rt: RecordType, lang: Lang) -> str:
    def t(name: str) -> str:
        return e(catalogue_label(name, lang))

    heading = f"{anchor(rt)}-heading"
    fields = "".join(
        f'<tr data-field="{e(f.path)}"><td><code>{e(f.path)}</code>'
        + (f' <span class="optional">({t("optional")})</span>' if f.optional else "")
        + f"</td><td>{e(f.type)}</td><td>{e(f.doc or '—')}</td></tr>"
        for f in rt.fields
    )
    agreements = _agreements(rt.agreements, lang) if rt.agreements else f"<p>{t('agreements_none')}</p>"
    return f"""<section class="record-type" id="{e(anchor(rt))}" aria-labelledby="{e(heading)}"
 data-provider="{e(rt.provider)}" data-record-type="{e(rt.record_type)}">
<h2 id="{e(heading)}">{e(rt.record_type)} — {e(rt.provider_name or rt.provider)}</h2>
<p>{e(rt.doc or "")}</p>
<dl class="facts">
<dt>{t("provider")}</dt><dd>{e(rt.provider_name or rt.provider)} (<code>{e(rt.provider)}</code>)</dd>
<dt>{t("topic")}</dt><dd><code>{e(rt.topic)}</code></dd>
<dt>{t("schema")}</dt><dd><code>{e(rt.name)}</code>, <code>{e(rt.subject)}</code>,
 {t("version")} <span class="schema-version">{rt.version}</span></dd>
<dt>{t("compatibility")}</dt><dd class="compatibility">{e(rt.compatibility)}</dd>
</dl>
<h3>{t("fields")}</h3>
<div class="scroll"><table class="fields">
<thead><tr><th scope="col">{t("field")}</th><th scope="col">{t("type")}</th>
<th scope="col">{t("description")}</th></tr></thead>
<tbody>{fields}</tbody></table></div>
<h3>{t("agreements")}</h3>
{agreements}
</section>
"""


def _agreements(entries: tuple[AgreementEntry, ...], lang: Lang) -> str:
    def t(name: str) -> str:
        return e(catalogue_label(name, lang))

    rows = []
    for a in entries:
        until = a.valid_until.isoformat() if a.valid_until else t("open_ended")
        validity = f"{a.valid_from.isoformat()} — {until}" + ("" if a.in_force else f" ({t('not_in_force')})")
        where = (
            f"<br>{t('where')}: "
            + "; ".join(
                f"<code>{e(path)}</code> {e(op)} <code>{e(value)}</code>"
                for path, condition in sorted(a.where.items())
                for op, value in condition.items()
            )
            if a.where
            else ""
        )
        state = "in-force" if a.in_force else "not-in-force"
        rows.append(
            f'<tr data-agreement="{e(a.id)}" class="{state}">'
            f"<td>{e(a.consumer_name or a.consumer)} (<code>{e(a.consumer)}</code>)</td>"
            f"<td>{e(a.purpose)}"
            + (f' <code class="purpose-code">{e(a.purpose_code)}</code>' if a.purpose_code else "")
            + f"</td><td>{e(a.legal_basis)}</td>"
            f'<td class="granted">{e(", ".join(a.fields))}{where}</td>'
            f"<td>{validity}</td><td>{t('consent_' + a.consent)}</td><td>{e(a.replaces or '—')}</td></tr>"
        )
    return (
        f'<div class="scroll"><table class="agreements"><thead><tr>'
        f'<th scope="col">{t("consumer")}</th><th scope="col">{t("purpose")}</th>'
        f'<th scope="col">{t("law")}</th><th scope="col">{t("granted")}</th>'
        f'<th scope="col">{t("validity")}</th><th scope="col">{t("consent")}</th>'
        f'<th scope="col">{t("replaces")}</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def router(desk: CatalogueDesk) -> APIRouter:
    api = APIRouter(tags=["catalogue page"], include_in_schema=False)

    @api.get(STYLESHEET)
    async def stylesheet() -> Response:
        return Response(CATALOGUE_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @api.get("/catalogue", response_class=HTMLResponse)
    async def catalogue_page(
        request: Request,
        lang: Annotated[str | None, Query()] = None,
        token: Annotated[str | None, Query(description="Demo only: sets the cookie.")] = None,
    ) -> Response:
        chosen = negotiate(lang, request.headers.get("accept-language"))
        try:
            if token is not None:  # demo sign-in: check it, keep it in a cookie, drop it from the URL
                authenticate(desk.directory, f"Bearer {token}", "the catalogue page")
                return signed_in(request, _url(lang=lang), cookie=COOKIE, token=token, path="/catalogue")
            authenticate(desk.directory, page_authorization(request, COOKIE), "the catalogue page")
            body = render(await desk.catalogue(), chosen)
        except BusError as error:
            heading = "unauthenticated" if status_of(error) == 401 else "error"
            title, heading = catalogue_label("error", chosen), catalogue_label(heading, chosen)
            return error_page(error, chosen, stylesheet=STYLESHEET, title=title, heading=heading)
        return HTMLResponse(body, headers=PAGE_HEADERS)

    return api
