"""Each service's OpenAPI document, from the same FastAPI app the runtime serves, built offline."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from shared.auth import declare_schemes, read_scope, secure_router
from shared.envelope import CloudEvent
from shared.http import create_app
from shared.service import ApiContext, ServiceDefinition
from shared.settings import ServiceSettings


class _Offline:
    """Stands in for the database: building the routes must never touch it."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"offline API app: database access ({name}) while building")

    def __getitem__(self, name: str) -> Any:
        raise RuntimeError(f"offline API app: database access ({name}) while building")


async def _ready() -> dict[str, str]:
    return {"database": "offline", "broker": "offline"}


async def _publish(exchange: str, event: CloudEvent) -> None:
    raise RuntimeError("offline API app: publishing is not possible")


def build_app(svc: ServiceDefinition) -> FastAPI:
    """The app `ServiceRuntime._build_app` builds, with no database, broker or environment."""
    app = create_app(svc.name, _ready, svc.description)
    if svc.api is not None:
        settings = (svc.settings_cls or ServiceSettings).model_construct()
        router = svc.api(ApiContext(svc.name, _Offline(), settings, _publish))
        app.include_router(secure_router(router, None, read_scope(svc.name, svc.read_scope)))
    declare_schemes(app)
    return app


def document(svc: ServiceDefinition) -> dict[str, Any]:
    return build_app(svc).openapi()


def render(doc: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
