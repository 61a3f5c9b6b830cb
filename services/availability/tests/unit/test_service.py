"""The service definition binds exactly the contract's events on the contract's exchanges."""

from __future__ import annotations

from availability.main import SERVICE
from availability.settings import AvailabilitySettings

CONSUMED = {
    "item.updated": "erp.events",
    "order.allocated": "erp.events",
    "order.deallocated": "erp.events",
    "inventory.adjusted": "wms.events",
    "inventory.counted": "wms.events",
    "inventory.quarantined": "wms.events",
    "inventory.released": "wms.events",
    "shipment.shipped": "wms.events",
    "transfer.shipped": "wms.events",
    "transfer.received": "wms.events",
    "receipt.confirmed": "receipt.events",
    "inbound.changed": "receipt.events",
    "return.stock_received": "returns.events",
    "return.stock_dispositioned": "returns.events",
    "returns.pending_changed": "returns.events",
}


def test_every_consumed_event_is_bound_on_its_contract_exchange() -> None:
    assert sorted(SERVICE.bindings()) == sorted((ex, t) for t, ex in CONSUMED.items())


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
    assert SERVICE.settings_cls is AvailabilitySettings
