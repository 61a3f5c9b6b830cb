"""Builders for order histories, shared by the unit tests as session fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from order_status import messages as m
from order_status.domain.fold import fold
from order_status.domain.mappings import DEFAULTS, Tables
from order_status.domain.order import Order, StatusChanged, record
from order_status.domain.views import Fact, OrderView

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def t(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


class History:
    """One order's events; `minute` is the event time, arrival is a second after it."""

    def __init__(self, order_id: str = "ORD-1") -> None:
        self.order_id = order_id
        self.n = 0

    def fact(self, type_: str, data: BaseModel, minute: float, source: str) -> Fact:
        self.n += 1
        return Fact(
            id=f"{self.order_id}-{self.n:03d}",
            type=type_,
            time=t(minute),
            received_at=t(minute) + timedelta(seconds=1),
            source=source,
            data=data.model_dump(mode="json", exclude_none=True),
        )

    def _lines(self, lines: dict[str, float], **extra: Any) -> list[dict[str, Any]]:
        return [{"line_id": k, "sku": f"SKU-{k}", "qty": v, **extra} for k, v in lines.items()]

    def created(self, minute: float = 0, **lines: float) -> Fact:
        data = m.OrderCreated(
            order_id=self.order_id,
            channel="web",
            customer_id="C-1",
            lines=self._lines(lines or {"L1": 10}),
        )
        return self.fact("order.created", data, minute, "erp/sap")

    def allocated(self, minute: float, **lines: float) -> Fact:
        lns = self._lines(lines, location="DC-EAST")
        data = m.OrderAllocated(order_id=self.order_id, lines=lns)
        return self.fact("order.allocated", data, minute, "erp/sap")

    def deallocated(self, minute: float, reason: str | None = None, **lines: float) -> Fact:
        lns = self._lines(lines, location="DC-EAST")
        data = m.OrderDeallocated(order_id=self.order_id, lines=lns, reason=reason)
        return self.fact("order.deallocated", data, minute, "erp/sap")

    def backordered(self, minute: float, **lines: float) -> Fact:
        data = m.OrderBackordered(order_id=self.order_id, lines=self._lines(lines))
        return self.fact("order.backordered", data, minute, "erp/sap")

    def cancelled(self, minute: float, reason: str | None = None) -> Fact:
        data = m.OrderCancelled(order_id=self.order_id, reason=reason)
        return self.fact("order.cancelled", data, minute, "erp/sap")

    def reported(
        self,
        minute: float,
        native: str,
        source: str = "erp/sap",
        line_id: str | None = None,
        reason: str | None = None,
    ) -> Fact:
        data = m.OrderStatusReported(
            order_id=self.order_id, native_status=native, line_id=line_id, reason=reason
        )
        return self.fact("order.status_reported", data, minute, source)

    def picked(self, minute: float, **lines: float) -> Fact:
        lns = [{"line_id": k, "sku": f"SKU-{k}", "qty_picked": v} for k, v in lines.items()]
        data = m.PickCompleted(order_id=self.order_id, location="DC-EAST", lines=lns)
        return self.fact("pick.completed", data, minute, "wms/dc-east")

    def packed(self, minute: float, shipment_id: str = "S1") -> Fact:
        data = m.PackCompleted(order_id=self.order_id, shipment_id=shipment_id, location="DC-EAST")
        return self.fact("pack.completed", data, minute, "wms/dc-east")

    def shipped(
        self, minute: float, shipment_id: str = "S1", tracking: str = "1Z1", **lines: float
    ) -> Fact:
        data = m.ShipmentShipped(
            shipment_id=shipment_id,
            order_id=self.order_id,
            location="DC-EAST",
            carrier="ups",
            tracking_number=tracking,
            lines=self._lines(lines),
        )
        return self.fact("shipment.shipped", data, minute, "wms/dc-east")

    def scan(
        self,
        minute: float,
        milestone: str,
        tracking: str = "1Z1",
        shipment_id: str | None = "S1",
        reason: str | None = None,
        with_order: bool = True,
    ) -> Fact:
        data = m.ShipmentTrackingUpdated(
            shipment_id=shipment_id,
            order_id=self.order_id if with_order else None,
            carrier="ups",
            tracking_number=tracking,
            milestone=milestone,
            native_code=f"UPS-{milestone.upper()}",
            exception_reason=reason,
        )
        return self.fact("shipment.tracking_updated", data, minute, "distsync/carrier-tracking")

    def returned(self, minute: float, status: str = "received", rma_id: str = "RMA-1") -> Fact:
        data = m.ReturnStatusChanged(rma_id=rma_id, order_id=self.order_id, status=status)
        return self.fact("return.status_changed", data, minute, "distsync/returns")


def fold_all(facts: Sequence[Fact], tables: Tables = DEFAULTS) -> OrderView:
    return fold(facts, tables)


def arrive(
    facts: Iterable[Fact], tables: Tables = DEFAULTS, order_id: str = "ORD-1"
) -> tuple[Order, list[StatusChanged]]:
    """Deliver facts one at a time, in the given (arrival) order, as the handler does."""
    order: Order | None = None
    announced: list[StatusChanged] = []
    for f in facts:
        order, changes = record(order, order_id, [f], tables)
        announced.extend(changes)
    assert order is not None
    return order, announced


def statuses(view: OrderView) -> list[str]:
    return [ms.status for ms in view.milestones]


def happy(h: History) -> list[Fact]:
    return [
        h.created(0, L1=10, L2=5),
        h.reported(1, "Credit Approved"),
        h.allocated(2, L1=10, L2=5),
        h.picked(30, L1=10, L2=5),
        h.packed(40),
        h.shipped(60, L1=10, L2=5),
        h.scan(90, "picked_up"),
        h.scan(200, "in_transit"),
        h.scan(1500, "delivered"),
    ]


def backorder(h: History) -> list[Fact]:
    return [
        h.created(0, L1=10, L2=5),
        h.allocated(1, L1=10),
        h.backordered(2, L2=5),
        h.allocated(300, L2=5),
        h.picked(320, L1=10),
        h.picked(330, L2=5),
    ]


def split(h: History) -> list[Fact]:
    return [
        h.created(0, L1=10, L2=5),
        h.allocated(1, L1=10, L2=5),
        h.picked(10, L1=10, L2=5),
        h.shipped(20, "S1", "1Z1", L1=10),
        h.shipped(25, "S2", "1Z2", L2=5),
        h.scan(100, "delivered", "1Z1", "S1"),
        h.scan(110, "exception", "1Z2", "S2", reason="address not found"),
        h.scan(130, "delivered", "1Z2", "S2"),
    ]


def cancel(h: History) -> list[Fact]:
    return [
        h.created(0),
        h.reported(1, "credit hold", reason="limit exceeded"),
        h.allocated(2, L1=10),
        h.cancelled(3, reason="customer request"),
        h.picked(4, L1=10),
    ]


def returned(h: History) -> list[Fact]:
    return [
        *happy(h),
        h.returned(3000, "authorized"),
        h.returned(4000, "received"),
        h.returned(4100, "completed"),
    ]


def messy(h: History) -> list[Fact]:
    """Ties in event time, a lagging source, unmapped codes, a deallocation."""
    return [
        h.created(0, L1=4, L2=6),
        h.allocated(5, L1=4, L2=6),
        h.deallocated(5, L2=6),
        h.backordered(5, L2=6),
        h.reported(6, "Waved", source="wms/dc-east"),
        h.reported(7, "teleported", source="wms/dc-east"),
        h.allocated(8, L2=6),
        h.picked(9, L1=4, L2=3),
        h.reported(9, "released", source="erp/sap"),
        h.shipped(12, "S1", "1Z9", L1=4, L2=3),
        h.picked(13, L2=3),
        h.scan(14, "exception", "1Z9", None, reason="damaged"),
        h.shipped(15, "S2", "1Z8", L2=3),
        h.scan(16, "in_transit", "1Z9", None),
    ]


SCENARIOS: dict[str, Callable[[History], list[Fact]]] = {
    "happy": happy,
    "backorder": backorder,
    "split": split,
    "cancel": cancel,
    "returned": returned,
    "messy": messy,
}


@pytest.fixture(scope="session")
def kit() -> Any:
    """The builders above, for test modules (importlib mode cannot import conftest)."""
    import sys

    return sys.modules[__name__]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`each_event`: (scenario, index) for every event of every scenario."""
    if "each_event" in metafunc.fixturenames:
        cases = [
            (name, i) for name, build in SCENARIOS.items() for i in range(len(build(History())))
        ]
        metafunc.parametrize("each_event", cases, ids=[f"{n}-{i}" for n, i in cases])
