"""HTTP read API: positions per SKU and location, and the promise check for order capture."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from availability import store
from availability.domain import promise
from availability.domain.items import to_units
from availability.domain.position import Numbers, Position
from availability.messages import MAX_QTY, AvailabilityChanged, AvailabilityNumbers, Key, Uom
from availability.settings import settings_of
from shared.http import ERROR_RESPONSES, SegmentRoute, body_limit, problem
from shared.service import ApiContext

MAX_CHECK_LINES = 1000


class TotalAvailability(AvailabilityNumbers):
    """Sums over every location; available_to_sell is the sum of each location's (floored)."""

    locations: int
    as_of: datetime | None


class SkuAvailability(BaseModel):
    sku: str
    base_uom: str | None
    locations: list[AvailabilityChanged]
    total: TotalAvailability


class CheckLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    line_id: str | None = Field(default=None, max_length=256)
    sku: Key
    qty: Annotated[float, Field(gt=0, le=MAX_QTY, allow_inf_nan=False)]
    uom: Uom | None = None
    location: Key | None = None


class CheckRequest(BaseModel):
    lines: list[CheckLine] = Field(min_length=1, max_length=MAX_CHECK_LINES)


class CheckLineAnswer(BaseModel):
    line_id: str | None
    sku: str
    qty: float
    uom: str | None
    promisable: bool
    location: str | None = Field(description="where it is promised from (or the best candidate)")
    qty_base: float | None = Field(description="the quantity in base units, when convertible")
    available_to_sell: float | None = Field(description="at `location`, before this line")
    reason: str | None = None


class CheckAnswer(BaseModel):
    promisable: bool = Field(description="every line can be promised")
    lines: list[CheckLineAnswer]


def _total(positions: list[Position]) -> TotalAvailability:
    ns = [p.numbers() for p in positions]

    def s(f: str) -> float:
        return to_units(sum(getattr(n, f) for n in ns))

    stamps = [p.as_of for p in positions if p.as_of is not None]
    return TotalAvailability(
        **{f.name: s(f.name) for f in fields(Numbers)},
        available_to_sell=to_units(sum(n.available_to_sell for n in ns)),
        available_to_promise=to_units(sum(n.available_to_promise for n in ns)),
        locations=len(positions),
        as_of=max(stamps) if stamps else None,
    )


def build_router(ctx: ApiContext) -> APIRouter:
    """Path segments are percent-decoded once: SKU `A/B` is `/v1/availability/A%2FB`."""
    router = APIRouter(
        prefix="/v1/availability",
        tags=["availability"],
        route_class=SegmentRoute,
        responses=ERROR_RESPONSES,
    )
    check_limit = settings_of(ctx.settings).availability_check_max_bytes

    @router.get(
        "/{sku}",
        response_model=SkuAvailability,
        responses={404: problem("No stock position or item record for this SKU")},
    )
    async def get_sku(sku: str) -> SkuAvailability:
        """Every location of a SKU and the total over them, in base units."""
        positions = await store.find_positions(ctx.db, [sku])
        items = await store.find_items(ctx.db, [sku])
        if not positions and sku not in items:
            raise HTTPException(404, detail=f"unknown SKU {sku}: no stock position or item record")
        item = items.get(sku)
        return SkuAvailability(
            sku=sku,
            base_uom=item.base_uom if item else None,
            locations=[_view(p) for p in positions],
            total=_total(positions),
        )

    @router.get(
        "/{sku}/{location}",
        response_model=AvailabilityChanged,
        responses={404: problem("No stock position for this SKU at this location")},
    )
    async def get_position(sku: str, location: str) -> AvailabilityChanged:
        """One position, with the same fields as `availability.changed`."""
        p = await store.find_position(ctx.db, sku, location)
        if p is None:
            raise HTTPException(404, detail=f"no stock position for {sku} at {location}")
        return _view(p)

    @router.post(
        "/check",
        response_model=CheckAnswer,
        responses={413: problem(f"The body is larger than {check_limit} bytes")},
    )
    @body_limit(check_limit)
    async def check(req: CheckRequest) -> CheckAnswer:
        """Can these lines be promised now, and from where? Quantities compare in base units."""
        skus = sorted({ln.sku for ln in req.lines})
        positions = await store.find_positions(ctx.db, skus)
        items = await store.find_items(ctx.db, skus)
        asks = [promise.LineRequest(ln.sku, ln.qty, ln.uom, ln.location) for ln in req.lines]
        answers = promise.check(asks, positions, items)
        lines = [
            CheckLineAnswer(
                line_id=ln.line_id,
                sku=ln.sku,
                qty=ln.qty,
                uom=ln.uom,
                promisable=a.promisable,
                location=a.location,
                qty_base=None if a.qty_base is None else to_units(a.qty_base),
                available_to_sell=None
                if a.available_to_sell is None
                else to_units(a.available_to_sell),
                reason=a.reason,
            )
            for ln, a in zip(req.lines, answers, strict=True)
        ]
        return CheckAnswer(promisable=all(a.promisable for a in answers), lines=lines)

    return router


def _view(p: Position) -> AvailabilityChanged:
    return AvailabilityChanged(**store.public_fields(p))
