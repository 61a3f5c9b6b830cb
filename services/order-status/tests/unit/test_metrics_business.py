"""Business metrics: units, exception resolution time, end-to-end cycle time; counted once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import REGISTRY

from order_status.domain.views import Fact
from order_status.main import SERVICE
from shared.envelope import build
from shared.service import Incoming
from shared.uow import InMemoryUnitOfWork

UNITS = "distsync_order_status_units_total"
RESOLUTION = "distsync_order_status_exception_resolution_seconds"
LATENCY = "distsync_order_status_milestone_latency_seconds"


def incoming(f: Fact) -> Incoming[Any]:
    route = SERVICE.route_for(f.type)
    assert route is not None
    env = build(f.type, f.data, source=f.source, id=f.id, time=f.time, correlationid="ORD-1")
    return Incoming(
        envelope=env,
        data=route.model.model_validate(f.data),
        exchange=route.exchanges[0],
        routing_key=f.type,
        received_at=f.received_at,
    )


async def deliver(facts: list[Fact], uow: InMemoryUnitOfWork | None = None) -> InMemoryUnitOfWork:
    """One committed batch per message, as the runtime does with batch size 1."""
    uow = uow or InMemoryUnitOfWork("order-status")
    for f in facts:
        route = SERVICE.route_for(f.type)
        assert route is not None
        await route.handler(incoming(f), uow)
        uow.commit()
    return uow


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much samples moved inside a `with` block (the registry is process-wide)."""

    def __init__(self) -> None:
        self.start: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.end: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    @staticmethod
    def _snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        out = {}
        for family in REGISTRY.collect():
            if family.name.startswith("distsync_order_status"):
                for s in family.samples:
                    out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self.end.get(key, 0.0) - self.start.get(key, 0.0)

    def units(self) -> dict[str, float]:
        return {k: self(UNITS, kind=k) for k in ("ordered", "shipped", "backordered")}


@contextmanager
def measured() -> Iterator[Delta]:
    d = Delta()
    d.start = d._snapshot()
    yield d
    d.end = d._snapshot()


async def test_ordered_and_shipped_units_count_the_lines_of_created_and_shipped(kit: Any) -> None:
    with measured() as d:
        await deliver(kit.happy(kit.History()))
    assert d.units() == {"ordered": 15.0, "shipped": 15.0, "backordered": 0.0}


async def test_backordered_units_count_backorder_lines_and_allocations_do_not_undo_them(
    kit: Any,
) -> None:
    with measured() as d:
        await deliver(kit.backorder(kit.History()))
    assert d.units() == {"ordered": 15.0, "shipped": 0.0, "backordered": 5.0}


async def test_a_second_report_of_the_same_shipment_does_not_count_its_units_again(
    kit: Any,
) -> None:
    h = kit.History()
    facts = [h.created(0, L1=10), h.shipped(10, "S1", "1Z1", L1=10)]
    uow = await deliver(facts)
    with measured() as d:
        await deliver([h.shipped(12, "S1", "1Z1", L1=10)], uow)  # TMS reports it too
        await deliver([h.shipped(5, "S1", "1Z1", L1=10)], uow)  # late, earlier report
    assert d.units() == {"ordered": 0.0, "shipped": 0.0, "backordered": 0.0}


async def test_a_redelivered_event_counts_no_units_and_observes_nothing(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0, L1=4), h.backordered(1, L1=4), h.shipped(2, L1=4)]
    uow = await deliver(facts)
    with measured() as d:
        await deliver(facts, uow)
    assert d.units() == {"ordered": 0.0, "shipped": 0.0, "backordered": 0.0}
    assert d(f"{LATENCY}_count", milestone="received_to_shipped") == 0


async def test_an_amended_order_counts_only_the_units_it_adds(kit: Any) -> None:
    h = kit.History()
    with measured() as d:
        await deliver([h.created(0, L1=10), h.created(5, L1=12, L2=3)])
    assert d(UNITS, kind="ordered") == 15.0


async def test_units_are_not_counted_when_the_batch_rolls_back(kit: Any) -> None:
    h = kit.History()
    uow = InMemoryUnitOfWork("order-status")
    route = SERVICE.route_for("order.created")
    assert route is not None
    with measured() as d:
        await route.handler(incoming(h.created(0, L1=7)), uow)
        # the transaction rolls back: the unit of work is dropped without a commit
    assert d.units() == {"ordered": 0.0, "shipped": 0.0, "backordered": 0.0}


async def test_exception_resolution_is_observed_once_with_the_exception_source(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0, L1=10), h.reported(1, "credit hold", reason="limit")]
    uow = await deliver(facts)
    with measured() as d:
        await deliver([h.allocated(4, L1=10), h.picked(30, L1=10)], uow)
    assert d(f"{RESOLUTION}_count", source="erp") == 1
    assert d(f"{RESOLUTION}_sum", source="erp") == 180.0


async def test_a_carrier_exception_resolves_at_the_next_scan_of_its_shipment(kit: Any) -> None:
    with measured() as d:
        await deliver(kit.split(kit.History()))
    assert d(f"{RESOLUTION}_count", source="carrier-tracking") == 1
    assert d(f"{RESOLUTION}_sum", source="carrier-tracking") == 20 * 60.0


async def test_a_duplicate_or_late_event_does_not_observe_a_resolution_again(kit: Any) -> None:
    h = kit.History()
    hold = h.reported(1, "credit hold", reason="limit")
    clear = h.allocated(4, L1=10)
    uow = await deliver([h.created(0, L1=10), hold, clear])
    with measured() as d:
        await deliver([clear, hold], uow)  # redelivered
        await deliver([h.allocated(3, L1=10)], uow)  # late: before the clearing allocation
        await deliver([h.reported(2, "credit hold", reason="again")], uow)  # late exception
    assert d(f"{RESOLUTION}_count", source="erp") == 0


async def test_an_order_that_never_leaves_exception_observes_no_resolution(kit: Any) -> None:
    h = kit.History()
    with measured() as d:
        await deliver([h.created(0, L1=10), h.reported(1, "credit hold", reason="limit")])
    assert d(f"{RESOLUTION}_count", source="erp") == 0


async def test_received_to_shipped_and_received_to_delivered_are_measured_once_per_order(
    kit: Any,
) -> None:
    h = kit.History()
    with measured() as d:
        uow = await deliver(kit.happy(h))
        await deliver([h.scan(1600, "delivered"), h.scan(1700, "in_transit")], uow)
    assert d(f"{LATENCY}_count", milestone="received_to_shipped") == 1
    assert d(f"{LATENCY}_sum", milestone="received_to_shipped") == 60 * 60.0
    assert d(f"{LATENCY}_count", milestone="received_to_delivered") == 1
    assert d(f"{LATENCY}_sum", milestone="received_to_delivered") == 1500 * 60.0
