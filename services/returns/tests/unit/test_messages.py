"""Ingress validation: bad payloads fail validation (and so go to the DLQ with the reason)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from returns.messages import (
    ReturnAuthorized,
    ReturnInspected,
    ReturnReceived,
    ReturnsPendingChanged,
)
from shared.bounds import MAX_TEXT_CHARS, MAX_TOTAL


def test_negative_received_quantity_is_invalid():
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ReturnReceived.model_validate(
            {"rma_id": "R", "location": "L", "lines": [{"sku": "S", "qty": -1}]}
        )


def test_unknown_disposition_is_invalid():
    with pytest.raises(ValidationError, match="disposition"):
        ReturnInspected.model_validate(
            {
                "rma_id": "R",
                "location": "L",
                "lines": [{"sku": "S", "qty": 1, "disposition": "donate"}],
            }
        )


def test_authorization_ignores_fields_publishers_add():
    ev = ReturnAuthorized.model_validate(
        {
            "rma_id": "R",
            "order_id": "O",
            "location": "L",
            "channel": "portal",
            "lines": [{"line_id": "1", "sku": "S", "qty": 2, "reason": "too small", "x": 1}],
            "expires_at": "2026-12-27T00:00:00Z",
        }
    )
    assert ev.lines[0].qty == 2
    assert ev.expires_at is not None and ev.expires_at.tzinfo is not None


def test_authorization_without_order_id_is_invalid():
    with pytest.raises(ValidationError, match="order_id"):
        ReturnAuthorized.model_validate({"rma_id": "R", "location": "L", "lines": []})


def test_expiry_without_an_offset_is_read_as_utc():
    ev = ReturnAuthorized.model_validate(
        {
            "rma_id": "R",
            "order_id": "O",
            "location": "L",
            "lines": [],
            "expires_at": "2026-12-27T00:00:00",
        }
    )
    assert ev.expires_at is not None and ev.expires_at.utcoffset() == timedelta(0)


AUTH = {"rma_id": "R", "order_id": "O", "location": "L", "lines": []}


@pytest.mark.parametrize(
    "expires_at",
    ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "1969-12-31T00:00:00Z"],
)
def test_an_expiry_outside_the_calendar_is_a_validation_error_not_an_overflow(expires_at):
    with pytest.raises(ValidationError, match="expires_at"):
        ReturnAuthorized.model_validate({**AUTH, "expires_at": expires_at})


def test_an_expiry_on_the_last_day_of_the_calendar_means_never():
    ev = ReturnAuthorized.model_validate({**AUTH, "expires_at": "9999-12-31"})
    assert ev.expires_at is not None and ev.expires_at.year == 9999


@pytest.mark.parametrize("qty", [1e308, float("inf"), 2e9, 10**400])
def test_quantities_beyond_the_bound_are_invalid_so_sums_cannot_overflow(qty):
    line = {"line_id": "1", "sku": "S", "qty": qty, "reason": "r"}
    with pytest.raises(ValidationError):
        ReturnAuthorized.model_validate({**AUTH, "lines": [line, line]})
    with pytest.raises(ValidationError):
        ReturnReceived.model_validate({"rma_id": "R", "location": "L", "lines": [line]})


def test_a_long_return_reason_is_cut_not_refused():
    line = {"line_id": "1", "sku": "S", "qty": 1, "reason": "too small " * 500}
    ev = ReturnAuthorized.model_validate({**AUTH, "lines": [line]})
    assert len(ev.lines[0].reason) == MAX_TEXT_CHARS


def test_an_rma_id_that_would_not_fit_a_correlation_id_is_invalid():
    with pytest.raises(ValidationError, match="bytes"):
        ReturnAuthorized.model_validate({**AUTH, "rma_id": "€" * 100})


def test_published_quantities_are_bounded():
    with pytest.raises(ValidationError):
        ReturnsPendingChanged(sku="S", location="L", pending_qty=float("inf"))
    assert ReturnsPendingChanged(sku="S", location="L", pending_qty=MAX_TOTAL)
