"""HTTP read API: GET /v1/returns/{rma_id}."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from returns import store
from returns.domain import state
from returns.domain.state import Flag, HistoryEntry, Rma, RmaLine
from returns.messages import Status
from shared.http import ERROR_RESPONSES, SegmentRoute, problem
from shared.service import ApiContext

MAX_RMA_ID = 256


class Quantities(BaseModel):
    authorized: float
    received: float
    pending: float
    awaiting_inspection: float
    inspected: float
    excess: float


class Dispositions(BaseModel):
    restock: float
    refurbish: float
    scrap: float
    return_to_vendor: float


class ItemView(BaseModel):
    sku: str
    location: str
    authorized: float
    received: float
    awaiting_inspection: float
    inspected: float
    dispositions: Dispositions
    first_received_at: datetime | None


class ReturnView(BaseModel):
    rma_id: str
    order_id: str | None
    status: Status | None
    authorized: bool
    authorized_by: str | None
    location: str | None
    expires_at: datetime | None
    authorization_lapsed: bool
    lines: list[RmaLine]
    items: list[ItemView]
    totals: Quantities
    dispositions: Dispositions
    flags: list[Flag]
    history: list[HistoryEntry]


def view(rma: Rma) -> ReturnView:
    """The RMA as integrators read it: lines as authorized, quantities by state per item."""
    items = [
        ItemView(
            sku=it.sku,
            location=it.location,
            authorized=it.authorized,
            received=it.received,
            awaiting_inspection=it.awaiting_inspection,
            inspected=it.inspected,
            dispositions=Dispositions(
                restock=it.restock,
                refurbish=it.refurbish,
                scrap=it.scrap,
                return_to_vendor=it.return_to_vendor,
            ),
            first_received_at=it.first_received_at,
        )
        for it in rma.items
    ]
    totals = Quantities(
        authorized=sum(i.authorized for i in items),
        received=sum(i.received for i in items),
        pending=sum(state.pending_contributions(rma).values()),
        awaiting_inspection=sum(i.awaiting_inspection for i in items),
        inspected=sum(i.inspected for i in items),
        excess=sum(state.excess_by_sku(rma).values()),
    )
    return ReturnView(
        rma_id=rma.rma_id,
        order_id=rma.order_id,
        status=rma.status,
        authorized=rma.authorized,
        authorized_by=rma.authorized_by,
        location=rma.location,
        expires_at=rma.expires_at,
        authorization_lapsed=rma.lapsed,
        lines=list(rma.lines),
        items=items,
        totals=totals,
        dispositions=Dispositions(
            restock=sum(i.dispositions.restock for i in items),
            refurbish=sum(i.dispositions.refurbish for i in items),
            scrap=sum(i.dispositions.scrap for i in items),
            return_to_vendor=sum(i.dispositions.return_to_vendor for i in items),
        ),
        flags=list(rma.flags),
        history=list(rma.history),
    )


def build_router(ctx: ApiContext) -> APIRouter:
    """Path segments are percent-decoded once: RMA `A/B 1` is `/v1/returns/A%2FB%201`."""
    router = APIRouter(
        prefix="/v1/returns",
        tags=["returns"],
        route_class=SegmentRoute,
        responses=ERROR_RESPONSES,
    )

    @router.get(
        "/{rma_id}",
        response_model=ReturnView,
        responses={404: problem("No such RMA"), 422: problem("Invalid RMA id")},
    )
    async def get_return(rma_id: str) -> ReturnView:
        """An RMA: lines, quantities by state, dispositions, flags and history."""
        if len(rma_id) > MAX_RMA_ID:
            raise HTTPException(422, detail=f"rma_id must be 1-{MAX_RMA_ID} characters")
        rma = await store.load_rma(ctx.db, rma_id)
        if rma is None:
            raise HTTPException(404, detail=f"no return with rma_id {rma_id!r}")
        return view(rma)

    return router
