"""The HTTP base every service shares: health, readiness, metrics, JSON errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.envelope import short_errors

ReadyCheck = Callable[[], Awaitable[dict[str, str]]]


def create_app(service: str, ready: ReadyCheck, description: str = "") -> FastAPI:
    app = FastAPI(
        title=f"distsync {service}",
        version="1.0.0",
        description=description or f"HTTP read API of the distsync {service} service.",
    )

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
            content={"detail": exc.detail},
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


def _safe(errors: object) -> object:
    """Validation errors made JSON-safe (pydantic may put exceptions in `ctx`)."""
    out = []
    for e in errors if isinstance(errors, list) else []:
        d = {k: v for k, v in e.items() if k in ("loc", "msg", "type")}
        d["loc"] = [str(x) for x in d.get("loc", [])]
        out.append(d)
    return out


__all__ = ["create_app", "short_errors"]
