"""The service definition binds exactly the contract's events on the contract's exchanges."""

from __future__ import annotations

from typing import Any

from availability.main import SERVICE
from availability.settings import AvailabilitySettings
from shared.envelope import build
from shared.service import Incoming
from shared.uow import InMemoryUnitOfWork


class RecordingUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.reads: set[tuple[str, str]] = set()

    async def get(self, collection: str, key: str, *, copy: bool = True) -> dict[str, Any] | None:
        self.reads.add((collection, key))
        return await super().get(collection, key, copy=copy)


CONSUMED = {
    "item.updated": ("erp.events",),
    "order.allocated": ("erp.events",),
    "order.deallocated": ("erp.events",),
    "inventory.adjusted": ("wms.events",),
    "inventory.counted": ("wms.events",),
    # also from receipt: holds changed by a re-check (docs/contract.md §2, §4)
    "inventory.quarantined": ("wms.events", "receipt.events"),
    "inventory.released": ("wms.events", "receipt.events"),
    "shipment.shipped": ("wms.events",),
    "transfer.shipped": ("wms.events",),
    "transfer.received": ("wms.events",),
    "receipt.confirmed": ("receipt.events",),
    "inbound.changed": ("receipt.events",),
    "return.stock_received": ("returns.events",),
    "return.stock_dispositioned": ("returns.events",),
    "returns.pending_changed": ("returns.events",),
}


def test_every_consumed_event_is_bound_on_its_contract_exchange() -> None:
    expected = [(ex, t) for t, exchanges in CONSUMED.items() for ex in exchanges]
    assert sorted(SERVICE.bindings()) == sorted(expected)


def test_the_service_publishes_changes_and_variances_on_its_own_exchange() -> None:
    assert SERVICE.name == "availability" and SERVICE.exchange == "availability.events"
    assert [p.type for p in SERVICE.publishes] == [
        "availability.changed",
        "availability.variance_detected",
    ]


def test_published_models_carry_exactly_the_contract_fields() -> None:
    models = {p.type: p.model for p in SERVICE.publishes}
    assert set(models["availability.changed"].model_fields) == {
        "sku",
        "location",
        "on_hand",
        "allocated",
        "quarantined",
        "in_transit",
        "inbound",
        "returns_pending",
        "safety_stock",
        "available_to_sell",
        "available_to_promise",
        "version",
        "as_of",
    }
    assert set(models["availability.variance_detected"].model_fields) == {
        "sku",
        "location",
        "expected_on_hand",
        "counted_on_hand",
        "variance",
        "counted_at",
    }


def test_the_movement_log_limit_is_a_prefixed_setting(monkeypatch) -> None:
    monkeypatch.setenv("DISTSYNC_AVAILABILITY_MOVEMENT_LOG_MAX", "50")
    assert AvailabilitySettings().availability_movement_log_max == 50
    monkeypatch.setenv("DISTSYNC_AVAILABILITY_MOVEMENT_WINDOW_S", "3600")
    assert AvailabilitySettings().availability_movement_window_s == 3600
    assert SERVICE.settings_cls is AvailabilitySettings


SAMPLES = {
    "item.updated": {"sku": "S", "base_uom": "EA", "safety_stock": {"A": 1, "B": 2}},
    "order.allocated": {"lines": [{"sku": "S", "location": "A", "qty": 1}]},
    "order.deallocated": {"lines": [{"sku": "S", "location": "B", "qty": 1}]},
    "inventory.adjusted": {"location": "A", "sku": "S", "qty_delta": 1},
    "inventory.counted": {"location": "A", "sku": "S", "counted_qty": 1},
    "inventory.quarantined": {"location": "A", "sku": "S", "qty": 1},
    "inventory.released": {"location": "A", "sku": "S", "qty": 1},
    "shipment.shipped": {
        "location": "A",
        "lines": [{"sku": "S", "qty": 1}, {"sku": "T", "qty": 1}],
    },
    "transfer.shipped": {
        "from_location": "A",
        "to_location": "B",
        "lines": [{"sku": "S", "qty": 1}],
    },
    "transfer.received": {"to_location": "B", "lines": [{"sku": "S", "qty": 1}]},
    "receipt.confirmed": {"location": "A", "lines": [{"sku": "S", "qty_accepted": 1}]},
    "inbound.changed": {"sku": "S", "location": "A", "inbound_qty": 1},
    "return.stock_received": {"location": "A", "sku": "S", "qty": 1},
    "return.stock_dispositioned": {"location": "A", "sku": "S", "qty": 1, "disposition": "scrap"},
    "returns.pending_changed": {"sku": "S", "location": "A", "pending_qty": 1},
}


async def test_preload_names_every_document_each_handler_reads() -> None:
    assert set(SAMPLES) == set(CONSUMED)
    for type_, payload in SAMPLES.items():
        route = SERVICE.route_for(type_)
        assert route is not None and route.preload is not None
        ev = build(type_, payload, source="wms/test")
        data = route.model.model_validate(payload)
        uow = RecordingUnitOfWork("availability")
        uow.current = ev
        await route.handler(Incoming(ev, data, route.exchanges[0], type_, ev.time), uow)
        assert uow.reads <= set(route.preload(data)), type_
