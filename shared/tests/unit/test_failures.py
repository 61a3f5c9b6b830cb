from __future__ import annotations

from shared import failures as F


def _headers(previous):
    try:
        raise ValueError("bad unit CS")
    except ValueError as e:
        return F.failure_headers(
            previous=previous,
            exc=e,
            kind="rejected",
            service="availability",
            queue="availability.main",
            exchange="wms.events",
            routing_key="inventory.adjusted",
            event_type="inventory.adjusted",
        )


def test_a_first_failure_records_everything_an_operator_needs():
    h = _headers({})
    assert h[F.H_EXC_TYPE] == "ValueError" and h[F.H_EXC_MSG] == "bad unit CS"
    assert h[F.H_ATTEMPTS] == 1 and h[F.H_FIRST] == h[F.H_LAST]
    assert h[F.H_ORIG_EXCHANGE] == "wms.events" and h[F.H_ORIG_KEY] == "inventory.adjusted"
    assert "ValueError" in h[F.H_STACK]
    assert not any(k.startswith("x-") for k in h)


def test_a_later_failure_keeps_the_first_time_and_the_original_route_and_counts_up():
    first = _headers({})
    first[F.H_FIRST] = "2026-01-01T00:00:00.000Z"
    again = F.failure_headers(
        previous={**first, "x-death": []},
        exc=RuntimeError("x"),
        kind="handler_error",
        service="availability",
        queue="availability.main",
        exchange="",
        routing_key="availability.main",
        event_type="inventory.adjusted",
    )
    assert again[F.H_ATTEMPTS] == 2
    assert again[F.H_FIRST] == "2026-01-01T00:00:00.000Z"
    assert again[F.H_ORIG_EXCHANGE] == "wms.events"
    assert "x-death" not in again


def test_a_message_on_a_named_exchange_records_that_exchange_whatever_its_headers_claim():
    forged = {F.H_ORIG_EXCHANGE: "erp.events", F.H_ORIG_KEY: "order.cancelled"}
    h = _headers(forged)
    assert h[F.H_ORIG_EXCHANGE] == "wms.events" and h[F.H_ORIG_KEY] == "inventory.adjusted"
