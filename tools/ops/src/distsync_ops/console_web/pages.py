"""`/console/...`: the console's pages, served without credentials as static shells.

A page carries no data: its shell names the page and its parameters (a service, a group id, an
event id: none of them secret), and `console.js` fetches everything from the authenticated API
with the credentials the operator gave on the login page (kept in `sessionStorage`, sent as a
header, never put in a URL). Every page is sent with a strict Content-Security-Policy: scripts,
styles and images from this process only, no inline script, no framing.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

PREFIX = "/console"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
TITLES = {
    "overview": "Dead-letter overview",
    "login": "Sign in",
    "service": "Failure groups",
    "group": "Failure group",
    "message": "Dead letter",
    "trace": "Correlation trace",
    "approvals": "Pending approvals",
    "audit": "Audit log",
}


def _files() -> Any:
    return resources.files("distsync_ops.console_web")


def shell(page: str, **params: str) -> HTMLResponse:
    """The page's HTML: the common layout, with the page name and parameters as data-*."""
    template = (_files() / "templates" / "page.html").read_text(encoding="utf-8")
    attrs = " ".join(
        f'data-{k}="{html.escape(v, quote=True)}"' for k, v in {"page": page, **params}.items()
    )
    body = template.replace("{{title}}", html.escape(TITLES[page])).replace("{{attrs}}", attrs)
    return HTMLResponse(body, headers=SECURITY_HEADERS)


def console_pages() -> APIRouter:
    r = APIRouter(prefix=PREFIX, include_in_schema=False)

    @r.get("")
    async def root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=308)

    @r.get("/")
    async def overview() -> Response:
        return shell("overview")

    @r.get("/login")
    async def login() -> Response:
        return shell("login")

    @r.get("/approvals")
    async def approvals() -> Response:
        return shell("approvals")

    @r.get("/audit")
    async def audit() -> Response:
        return shell("audit")

    @r.get("/services/{service}")
    async def service(service: str) -> Response:
        return shell("service", service=service)

    @r.get("/services/{service}/groups/{group}")
    async def group(service: str, group: str) -> Response:
        return shell("group", service=service, group=group)

    @r.get("/services/{service}/messages/{event_id}")
    async def message(service: str, event_id: str) -> Response:
        return shell("message", service=service, id=event_id)

    @r.get("/trace/{correlationid}")
    async def trace(correlationid: str) -> Response:
        return shell("trace", correlationid=correlationid)

    @r.get("/static/{name}")
    async def static(name: str) -> Response:
        kind = next((t for ext, t in STATIC_TYPES.items() if name.endswith(ext)), None)
        if kind is None or "/" in name or name.startswith("."):
            raise HTTPException(404, detail="no such file")
        f = _files() / "static" / name
        if not f.is_file():
            raise HTTPException(404, detail="no such file")
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return Response(f.read_bytes(), media_type=kind, headers=headers)

    return r
