"""Ingress validation: bad payloads fail validation (and so go to the DLQ with the reason)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from returns.messages import ReturnAuthorized, ReturnInspected, ReturnReceived


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
