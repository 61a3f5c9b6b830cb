"""Putting a guard on a router: each route needs its scope (its own or the router's default),
routes marked `own_authentication` stay reachable without one, and the OpenAPI document says
so: the security schemes, and per operation the scopes it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from shared.auth.guard import Guard
from shared.http import problem

F = TypeVar("F", bound=Callable[..., Any])

_SCOPE_ATTR = "__distsync_scope__"
_OWN_AUTH_ATTR = "__distsync_own_authentication__"

BEARER = "bearerAuth"
API_KEY = "apiKeyAuth"
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An OAuth 2.0 / OpenID Connect access token from the configured issuer. "
        "Each operation lists the scope it needs (from `scope`/`scp`, or a role mapped to it).",
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A static API key, for systems that cannot get tokens; its scopes are "
        "those its entry in the keys file lists.",
    },
}

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem("No credentials, or invalid ones (`WWW-Authenticate: Bearer` says why)"),
    403: problem("The caller is authenticated but lacks the scope this operation needs"),
    429: problem("Too many requests from this client for this route group: see Retry-After"),
}


def requires(scope: str) -> Callable[[F], F]:
    """Marks an endpoint with the scope it needs, instead of its router's default."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _SCOPE_ATTR, scope)
        return endpoint

    return mark


def own_authentication(endpoint: F) -> F:
    """Marks an endpoint that authenticates its callers itself (a signed carrier webhook):
    reachable without a token or key, and documented so."""
    setattr(endpoint, _OWN_AUTH_ATTR, True)
    return endpoint


def security(scope: str) -> list[dict[str, list[str]]]:
    """An operation's `security`: a bearer token or an API key, either with `scope`."""
    return [{BEARER: [scope]}, {API_KEY: [scope]}]


def secure_router(router: APIRouter, guard: Guard | None, default_scope: str) -> APIRouter:
    """Adds the guard to every route of `router` (before it is included in an app). With no
    guard (an offline OpenAPI build) only the documentation is added."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        extra = dict(route.openapi_extra or {})
        if getattr(route.endpoint, _OWN_AUTH_ATTR, False):
            route.openapi_extra = {**extra, "security": []}
            continue
        scope = getattr(route.endpoint, _SCOPE_ATTR, default_scope)
        if guard is not None:
            route.dependencies.insert(0, Depends(guard.require(scope)))
        route.openapi_extra = {**extra, "security": security(scope)}
        route.responses = {**AUTH_RESPONSES, **route.responses}
    return router


def declare_schemes(app: FastAPI) -> None:
    """The app's OpenAPI document declares the bearer and API key schemes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            doc.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
