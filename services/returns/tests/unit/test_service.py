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


def test_every_message_of_one_rma_has_the_rma_as_its_key():
    """The key keeps an RMA's messages in order: one batch at a time in a replica, and one
    partition across replicas (received before inspected, whichever replica consumes)."""
    from returns.store import RMAS

    for route in SERVICE.routes:
        assert route.preload is not None, route.type
        fields = route.model.model_fields
        assert "rma_id" in fields, route.type
        data = route.model.model_construct(rma_id="RMA-7")
        assert route.preload(data)[0] == (RMAS, "RMA-7"), route.type
