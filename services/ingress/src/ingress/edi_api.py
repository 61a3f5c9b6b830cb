"""The ingress's X12 routes: an interchange in (answered with its 997/999), an 846 out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from ingress import edi, store, x12io
from ingress.admission import Gate
from ingress.callers import allowed_systems
from ingress.domain.systems import PUBLISH_SCOPE, READ_SCOPE
from ingress.domain.x12_out import Party, Stock, inventory_advice
from ingress.settings import IngressSettings
from shared.auth import requires
from shared.http import body_limit, problem, read_body
from shared.service import ApiContext

X12 = "application/edi-x12"
MAX_SKUS = 500


def _wants_x12(request: Request) -> bool:
    return X12 in request.headers.get("accept", "")


async def _stock(settings: IngressSettings, location: str, skus: list[str]) -> list[Stock]:
    """Each SKU's position at `location` from availability's read API (none known: zero)."""
    headers = {}
    if settings.ingress_availability_api_key:
        headers["X-API-Key"] = settings.ingress_availability_api_key
    base = settings.ingress_availability_url.rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=headers) as c:

        async def one(sku: str) -> Stock:
            r = await c.get(f"/v1/availability/{quote(sku, safe='')}/{quote(location, safe='')}")
            if r.status_code == 404:
                return Stock(sku, 0.0, 0.0)
            if r.status_code != 200:
                raise HTTPException(
                    502, detail=f"availability answered {r.status_code} for {sku}: {r.text[:200]}"
                )
            p = r.json()
            return Stock(sku, float(p["on_hand"]), float(p["available_to_sell"]))

        try:
            return list(await asyncio.gather(*(one(s) for s in skus)))
        except httpx.HTTPError as e:
            raise HTTPException(502, detail=f"availability cannot be read: {e}") from e


def build_edi_router(ctx: ApiContext, settings: IngressSettings, gate: Gate) -> APIRouter:
    router = APIRouter(tags=["edi"])
    limit = settings.ingress_max_body_bytes

    @router.post(
        "/v1/edi",
        status_code=202,
        responses={
            400: problem("Not an X12 interchange: nothing can be acknowledged"),
            422: problem("A transaction set was rejected: the 997/999 in `ack` says why"),
            503: problem("The broker did not take every event: send the interchange again"),
        },
        openapi_extra={
            "requestBody": {"required": True, "content": {X12: {"schema": {"type": "string"}}}}
        },
    )
    @body_limit(limit)
    @requires(PUBLISH_SCOPE)
    async def post_edi(request: Request) -> Response:
        """An X12 interchange (856, 940, 945): accepted sets are published, and the answer
        carries the 997 (999 for 005010) acknowledgment; `Accept: application/edi-x12` gets
        the acknowledgment alone."""
        body = await read_body(request, limit)
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as e:
            raise HTTPException(400, detail=f"X12 is ASCII text: {e}") from e
        got = await edi.receive(
            text,
            publish=ctx.publish,
            db=ctx.db,
            gate=gate,
            settings=settings,
            allowed=allowed_systems(request),
        )
        if got.ack is not None and _wants_x12(request):
            return Response(got.ack, got.status, media_type=X12)
        return JSONResponse(got.body, got.status)

    @router.get(
        "/v1/edi/846",
        responses={502: problem("availability's API cannot be read")},
        response_class=Response,
    )
    @requires(READ_SCOPE)
    async def get_846(
        location: str,
        sku: list[str] = Query(..., description="the SKUs to advise on, repeated"),
        receiver: str = "PARTNER",
        receiver_qualifier: str = "ZZ",
    ) -> Response:
        """An 846 inventory advice for one location: on hand and available for sale per SKU,
        read from availability at the moment of the request."""
        if len(sku) > MAX_SKUS:
            raise HTTPException(422, detail=f"at most {MAX_SKUS} SKUs per advice")
        stock = await _stock(settings, location, sorted(set(sku)))
        us = Party(settings.ingress_edi_sender_qualifier, settings.ingress_edi_sender_id)
        control = await store.next_control(ctx.db, "846")
        segs = inventory_advice(
            us, Party(receiver_qualifier, receiver), control, datetime.now(UTC), location, stock
        )
        return Response(x12io.write(segs), media_type=X12)

    return router
