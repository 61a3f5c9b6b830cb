"""The HTTP base every service shares: health, readiness, metrics, JSON errors, body limits."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ReadyCheck = Callable[[], Awaitable[dict[str, str]]]
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_BODY_BYTES = 1_048_576
_LIMIT_ATTR = "__distsync_max_body_bytes__"


class FieldProblem(BaseModel):
    loc: list[str] = Field(description="where: `body`, `query` or `path`, then the field path")
    msg: str
    type: str


class Problem(BaseModel):
    """Every 4xx and 5xx answer: a readable `detail`; validation errors add `errors`."""

    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="present when the request failed validation (422)"
    )


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an error answered with `Problem`."""
    return {"model": Problem, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {  # `APIRouter(responses=...)` of each API
    "4XX": problem(
        "The request cannot be served: `detail` says why. 413: the body is larger than the "
        "path allows; 422: a parameter or the body is invalid, and `errors` lists each field."
    ),
    "5XX": problem("The service failed, or (503) its database or broker is unavailable"),
}


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body is larger than {limit} bytes")


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Marks an endpoint with its own body limit, instead of the app's default."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _LIMIT_ATTR, max_bytes)
        return endpoint

    return mark


class BodyLimitMiddleware:
    """Counts body bytes as the app reads them and refuses with 413 once the limit is passed.

    The limit is the routed endpoint's (`body_limit`) or the default. A declared Content-Length
    over it is refused before any byte is read; a chunked body as soon as it passes it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0
        limit: int | None = None
        started = False

        async def counted() -> Message:
            nonlocal seen, limit
            if limit is None:
                limit = getattr(scope.get("endpoint"), _LIMIT_ATTR, self.max_bytes)
                if _content_length(scope) > limit:
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as e:
            if started:
                raise
            await JSONResponse({"detail": e.detail}, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body read chunk by chunk, never more than `max_bytes` held: 413 beyond them."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(max_bytes)
    return bytes(body)


def _in_bson_range(value: datetime) -> datetime:
    """An aware time converted to UTC; refused when that leaves years 1-9999 (MongoDB's range)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside years 0001-9999 once converted to UTC") from None


Time = Annotated[datetime, AfterValidator(_in_bson_range)]
"""A date-time parameter: aware values come in UTC; 422 when that is not a representable date."""


def utc_time(value: datetime) -> datetime:
    """`Time`'s check for a time read elsewhere (a cursor, a carrier push): an aware time in
    UTC, a naive one unchanged; ValueError when UTC has no such date."""
    return _in_bson_range(value)


_KEPT = re.compile(r"(%2[fF]|%25)")


def _routing_path(scope: Scope) -> str | None:
    """The path with `%2F` and `%25` still encoded, so an encoded `/` cannot split a segment."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes) or b"%" not in raw:
        return None
    text = raw.decode("ascii", "replace")
    if unquote(text) != scope.get("path"):
        return None  # rewritten on the way in: route on the path as given
    parts = _KEPT.split(text)
    return "".join(p.upper() if i % 2 else unquote(p) for i, p in enumerate(parts))


class SegmentRoute(APIRoute):
    """Path parameters are read from the raw path: `/v1/x/A%2FB` is `A/B`, one parameter."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = _routing_path(scope) if scope["type"] == "http" else None
        if path is None:
            return super().matches(scope)
        match, child = super().matches({**scope, "path": path})
        if match is not Match.NONE:
            params = dict(child["path_params"])
            for name in self.param_convertors:
                if isinstance(params.get(name), str):
                    params[name] = unquote(params[name])
            child["path_params"] = params
        return match, child


def create_app(
    service: str,
    ready: ReadyCheck,
    description: str = "",
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    app = FastAPI(
        title=f"distsync {service}",
        version="1.0.0",
        description=description or f"HTTP read API of the distsync {service} service.",
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        for err in errors[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        return JSONResponse(
            status_code=422,
            content={"detail": "invalid request: " + "; ".join(parts), "errors": _safe(errors)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": _readable(exc)},
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=500, content={"detail": f"internal error: {type(exc).__name__}"}
        )

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Broker and database are reachable")
    async def readyz() -> Response:
        checks = await ready()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={
                "status": "ready" if ok else "not_ready",
                "service": service,
                "checks": checks,
            },
        )

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _readable(exc: StarletteHTTPException) -> str:
    """FastAPI's "error parsing the body" says what was wrong with it."""
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, RecursionError):
        return "request body is not valid JSON: nested too deeply"
    if exc.status_code == 400 and isinstance(cause, ValueError):
        return f"request body is not valid JSON: {cause}"
    return str(exc.detail)


def _safe(errors: object) -> object:
    """Validation errors made JSON-safe (pydantic may put exceptions in `ctx`)."""
    out = []
    for e in errors if isinstance(errors, list) else []:
        d = {k: v for k, v in e.items() if k in ("loc", "msg", "type")}
        d["loc"] = [str(x) for x in d.get("loc", [])]
        out.append(d)
    return out


__all__ = [
    "ERROR_RESPONSES",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "Problem",
    "SegmentRoute",
    "Time",
    "body_limit",
    "create_app",
    "problem",
    "read_body",
    "utc_time",
]
