"""An in-memory receipt service: messages go through the real routes, handlers and models."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receipt.main import SERVICE
from receipt.settings import ReceiptSettings
from shared.envelope import build
from shared.service import Incoming
from shared.uow import InMemoryUnitOfWork

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
_seq = itertools.count()


def at(hours: float) -> datetime:
    """An event time `hours` after T0."""
    return T0 + timedelta(hours=hours)


class Harness:
    def __init__(self, tolerance_pct: float = 0.0) -> None:
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.settings = ReceiptSettings(receipt_default_tolerance_pct=tolerance_pct)
        self.published: list[tuple[str, dict[str, Any], datetime]] = []
        self.inbox: set[str] = set()

    async def send(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        time: datetime | None = None,
        id: str | None = None,
    ) -> None:
        """Deliver one message as the runtime would: inbox, handler, commit."""
        ev = build(type_, data, source="test/unit", time=time or at(next(_seq) / 100), id=id)
        if ev.id in self.inbox:
            return
        route = SERVICE.route_for(type_)
        assert route is not None, type_
        msg = Incoming(ev, route.model.model_validate(data), route.exchanges[0], type_, T0)
        uow = InMemoryUnitOfWork("receipt", self.store, self.settings)
        uow.current = ev
        await route.handler(msg, uow)
        uow.commit()
        self.inbox.add(ev.id)
        self.published += [(p.event.type, p.event.data, p.event.time) for p in uow.published]

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [d for t, d, _ in self.published if t == type_]

    def exceptions(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events("receipt.exception") if kind in (None, e["kind"])]

    def po(self, po_id: str) -> dict[str, Any]:
        return self.store["purchase_orders"][po_id]

    def line(self, po_id: str, line_id: str) -> dict[str, Any]:
        return next(ln for ln in self.po(po_id)["lines"] if ln["line_id"] == line_id)

    def inbound(self, sku: str, location: str = "DC-EAST") -> dict[str, Any] | None:
        """The latest inbound.changed published for (sku, location)."""
        found = [
            d
            for d in self.events("inbound.changed")
            if (d["sku"], d["location"]) == (sku, location)
        ]
        return found[-1] if found else None

    def confirmed_totals(self) -> dict[str, tuple[float, float]]:
        """Per SKU, (accepted, quarantined) summed over every receipt.confirmed."""
        out: dict[str, tuple[float, float]] = {}
        for ev in self.events("receipt.confirmed"):
            for ln in ev["lines"]:
                a, q = out.get(ln["sku"], (0.0, 0.0))
                out[ln["sku"]] = (a + ln["qty_accepted"], q + ln["qty_quarantined"])
        return out

    # ---- builders and senders for the events the service consumes ----

    at = staticmethod(at)

    @staticmethod
    def pl(line_id: str, sku: str, qty: float, **kw: Any) -> dict[str, Any]:
        """A purchase_order.released line."""
        return {"line_id": line_id, "sku": sku, "qty": qty, **kw}

    @staticmethod
    def rl(sku: str, qty: float, **kw: Any) -> dict[str, Any]:
        """A receipt.recorded line."""
        return {"sku": sku, "qty_received": qty, **kw}

    async def release(
        self,
        po_id: str,
        lines: list[dict[str, Any]],
        *,
        location: str = "DC-EAST",
        expected_date: str = "2026-12-01",
        time: datetime | None = None,
    ) -> None:
        data = {
            "po_id": po_id,
            "supplier_id": "SUP-1",
            "location": location,
            "expected_date": expected_date,
            "lines": lines,
        }
        await self.send("purchase_order.released", data, time=time)

    async def cancel(self, po_id: str, *, time: datetime | None = None) -> None:
        await self.send(
            "purchase_order.cancelled", {"po_id": po_id, "reason": "supplier"}, time=time
        )

    async def asn(
        self,
        asn_id: str,
        po_id: str,
        expected_date: str,
        lines: list[tuple[str, str, float]],
        *,
        time: datetime | None = None,
    ) -> None:
        data = {
            "asn_id": asn_id,
            "po_id": po_id,
            "location": "DC-EAST",
            "expected_date": expected_date,
            "lines": [{"po_line_id": li, "sku": s, "qty": q} for li, s, q in lines],
        }
        await self.send("asn.received", data, time=time)

    async def receive(
        self,
        receipt_id: str,
        po_id: str | None,
        lines: list[dict[str, Any]],
        *,
        time: datetime | None = None,
        id: str | None = None,
        **kw: Any,
    ) -> None:
        data: dict[str, Any] = {"receipt_id": receipt_id, "location": "DC-EAST", "lines": lines}
        if po_id is not None:
            data["po_id"] = po_id
        await self.send("receipt.recorded", {**data, **kw}, time=time, id=id)

    async def item(self, sku: str, base_uom: str, conversions: dict[str, float]) -> None:
        data = {"sku": sku, "base_uom": base_uom, "uom_conversions": conversions}
        await self.send("item.updated", data)

    def statuses(self, po_id: str) -> list[str]:
        return [
            d["status"] for d in self.events("purchase_order.status_changed") if d["po_id"] == po_id
        ]


@pytest.fixture
def svc() -> Harness:
    return Harness()


@pytest.fixture
def new_svc() -> type[Harness]:
    """For tests that compare two independent service instances."""
    return Harness
