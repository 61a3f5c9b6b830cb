"""The service's declared routes and publications."""

from __future__ import annotations

from returns.main import SERVICE


def test_service_consumes_returns_from_erp_commerce_and_wms():
    assert set(SERVICE.bindings()) == {
        ("erp.events", "return.authorized"),
        ("commerce.events", "return.authorized"),
        ("wms.events", "return.received"),
        ("wms.events", "return.inspected"),
    }


def test_service_publishes_the_four_contract_events_on_returns_events():
    assert SERVICE.exchange == "returns.events"
    assert {p.type for p in SERVICE.publishes} == {
        "return.status_changed",
        "return.stock_received",
        "return.stock_dispositioned",
        "returns.pending_changed",
    }
    # its own sweep; the runtime adds the DLQ-age gauge every service runs (shared.runtime)
    assert [t.name for t in SERVICE.periodic] == ["returns-expiry-sweep"]
