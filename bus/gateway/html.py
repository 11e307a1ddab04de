"""What the gateway's server-rendered pages share: escaping, security headers, sign-in and errors.

Pages authenticate with ``Authorization: Bearer`` (a portal proxies them) or, for demos, a token
given once as ``?token=``: it is checked, kept in an HttpOnly, SameSite=Strict cookie scoped to the
page's path, and dropped from the address by a redirect (the gateway keeps no access log).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bus.errors import BusError
from bus.gateway.errors import status_of
from bus.gateway.words import LANGUAGE_NAMES, Lang

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}


def e(value: object) -> str:
    """Escape for HTML text and double-quoted attributes."""
    return html.escape(str(value), quote=True)


def document_head(lang: Lang, title: str, stylesheet: str, script: str | None = None) -> str:
    """Where every page starts: its language, charset, viewport, title and the gateway's own assets."""
    deferred = f'\n<script src="{e(script)}" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="{lang.value}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="stylesheet" href="{e(stylesheet)}">{deferred}
</head>
"""


def language_links(lang: Lang, url_for: Callable[[str], str]) -> str:
    """The switcher's list items: each language by its own name, the current one marked."""
    return "".join(
        f'<li><a href="{e(url_for(code.value))}" lang="{code.value}" hreflang="{code.value}"'
        + (' aria-current="true"' if code is lang else "")
        + f">{e(name)}</a></li>"
        for code, name in LANGUAGE_NAMES.items()
    )


def authorization(request: Request, cookie: str) -> str | None:
    """The request's bearer credentials: its Authorization header, else the page's sign-in cookie."""
    header = request.headers.get("authorization")
    if header:
        return header
    value = request.cookies.get(cookie)
    return f"Bearer {value}" if value else None


def signed_in(request: Request, target: str, *, cookie: str, token: str, path: str) -> RedirectResponse:
    """Redirect to ``target`` (the address without the token) with the token kept in the cookie."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        cookie, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path=path
    )
    response.headers.update(PAGE_HEADERS)
    return response


def error_page(error: BusError, lang: Lang, *, stylesheet: str, title: str, heading: str) -> HTMLResponse:
    """The error as a page (its status, message and hint) under an already translated heading."""
    text = f"""<!doctype html>
<html lang="{lang.value}"><head><meta charset="utf-8"><title>{e(title)}</title>
<link rel="stylesheet" href="{e(stylesheet)}"></head>
<body><main><h1>{e(heading)}</h1><p role="alert">{e(error.message)}</p>
<p>{e(error.hint)}</p></main></body></html>
"""
    return HTMLResponse(text, status_code=status_of(error), headers=PAGE_HEADERS)
