"""HTTP read API: purchase orders as checked against receipts, and receipt exceptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from receipt import store
from receipt.domain.purchase_order import PurchaseOrder, line_expected_date
from receipt.messages import EXCEPTION_KINDS, ExceptionKind, PoStatus
from shared.http import ERROR_RESPONSES, SegmentRoute, Time, problem
from shared.service import ApiContext


class LotView(BaseModel):
    lot: str
    qty: float


class LineView(BaseModel):
    line_id: str
    sku: str
    ordered: float  # base units
    ordered_uom: str | None
    ordered_qty_in_uom: float
    expected: float  # still expected: max(0, ordered - received) while the PO is open
    expected_date: datetime | None
    advised: float
    received: float
    accepted: float
    quarantined: float
    damaged: float
    substituted: float
    over_receipt_tolerance_pct: float
    lot_tracked: bool
    lots: list[LotView]


class ReceiptLineView(BaseModel):
    po_line_id: str | None
    sku: str
    qty_received: float
    qty_accepted: float
    qty_quarantined: float
    lot: str | None
    substitute_for_sku: str | None


class ReceiptView(BaseModel):
    receipt_id: str
    location: str
    at: datetime
    lines: list[ReceiptLineView]


class HeldLineView(BaseModel):
    po_line_id: str | None
    sku: str
    qty: float
    damaged: float
    lot: str | None


class HeldReceiptView(BaseModel):
    """A receipt that arrived before its PO was released; checked when the release arrives."""

    receipt_id: str
    location: str
    at: datetime
    lines: list[HeldLineView]


class ExceptionView(BaseModel):
    id: str
    kind: ExceptionKind
    receipt_id: str
    po_id: str | None = None
    po_line_id: str | None = None
    sku: str
    qty: float
    detail: str
    location: str
    at: datetime


class PurchaseOrderView(BaseModel):
    po_id: str
    status: PoStatus | Literal["awaiting_release"]
    released: bool
    supplier_id: str | None
    location: str | None
    expected_date: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    lines: list[LineView]
    receipts: list[ReceiptView]
    held_receipts: list[HeldReceiptView]
    exceptions: list[ExceptionView]


class ExceptionList(BaseModel):
    exceptions: list[ExceptionView]


_LINE_FIELDS = {
    "line_id", "sku", "ordered", "ordered_uom", "ordered_qty_in_uom", "advised", "received",
    "accepted", "quarantined", "damaged", "substituted", "lot_tracked",
}  # fmt: skip
_RECEIPT = {"receipt_id", "location", "at", "lines"}


def po_view(po: PurchaseOrder, exceptions: list[dict[str, Any]]) -> PurchaseOrderView:
    open_ = po.released and po.status in ("open", "partially_received")
    lines = [
        LineView(
            **ln.model_dump(include=_LINE_FIELDS),
            expected=ln.remaining if open_ else 0.0,
            expected_date=line_expected_date(po, ln),
            over_receipt_tolerance_pct=ln.tolerance_pct,
            lots=[LotView(lot=x.lot, qty=x.qty) for x in ln.lots],
        )
        for ln in po.lines
    ]
    return PurchaseOrderView(
        po_id=po.po_id,
        status=po.status or "awaiting_release",
        released=po.released,
        supplier_id=po.supplier_id,
        location=po.location,
        expected_date=po.expected_date,
        cancelled_at=po.cancelled_at,
        cancel_reason=po.cancel_reason,
        lines=lines,
        receipts=[ReceiptView.model_validate(r.model_dump(include=_RECEIPT)) for r in po.receipts],
        held_receipts=[
            HeldReceiptView.model_validate(r.model_dump(include=_RECEIPT)) for r in po.held
        ],
        exceptions=[ExceptionView.model_validate(e) for e in exceptions],
    )


def build_router(ctx: ApiContext) -> APIRouter:
    """The service's `/v1` paths; they read `ctx.db` only. PO `A/B` is `.../A%2FB`."""
    router = APIRouter(tags=["receipt"], route_class=SegmentRoute, responses=ERROR_RESPONSES)

    @router.get(
        "/v1/purchase-orders/{po_id}",
        response_model=PurchaseOrderView,
        responses={404: problem("No such purchase order")},
    )
    async def get_purchase_order(po_id: str) -> PurchaseOrderView:
        po = await store.find_po(ctx.db, po_id)
        if po is None:
            raise HTTPException(404, detail=f"purchase order {po_id!r} not found")
        exceptions = await store.find_exceptions(ctx.db, po_id=po_id, limit=1000)
        return po_view(po, exceptions)

    @router.get("/v1/receipt-exceptions", response_model=ExceptionList)
    async def list_receipt_exceptions(
        kind: str | None = Query(
            None,
            description="only this kind: " + ", ".join(EXCEPTION_KINDS),
            json_schema_extra={"enum": list(EXCEPTION_KINDS)},
        ),
        since: Time | None = Query(
            None, description="event time, inclusive (RFC 3339; UTC when without an offset)"
        ),
        limit: int = Query(100, ge=1, le=1000),
    ) -> ExceptionList:
        """Newest first."""
        if kind is not None and kind not in EXCEPTION_KINDS:
            raise HTTPException(
                422, detail=f"unknown kind {kind!r}; one of: {', '.join(EXCEPTION_KINDS)}"
            )
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        docs = await store.find_exceptions(ctx.db, kind=kind, since=since, limit=limit)
        return ExceptionList(exceptions=[ExceptionView.model_validate(d) for d in docs])

    return router
