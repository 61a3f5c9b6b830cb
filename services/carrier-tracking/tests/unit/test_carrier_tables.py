"""Table-driven: each carrier's native codes map to the contract's milestones, never guessed."""

from __future__ import annotations

import pytest

from carrier_tracking.domain.carriers import (
    EXCEPTION_REASONS,
    MILESTONES,
    TABLES,
    classify,
    normalise_carrier,
)
from carrier_tracking.domain.carriers.table import normalise_code

CASES = [
    # UPS: status types and activity codes
    ("ups", "M", None, "label_created", None),
    ("ups", "MP", None, "label_created", None),
    ("ups", "P", None, "picked_up", None),
    ("ups", "OR", None, "picked_up", None),
    ("ups", "I", None, "in_transit", None),
    ("ups", "AR", None, "in_transit", None),
    ("ups", "DP", None, "in_transit", None),
    ("ups", "OT", None, "out_for_delivery", None),
    ("ups", "D", None, "delivered", None),
    ("ups", "FS", None, "delivered", None),
    ("ups", "X", None, "exception", None),
    ("ups", "MV", None, "exception", "cancelled"),
    ("ups", "RS", None, "returned_to_sender", None),
    ("ups", "NA", None, None, None),
    # FedEx: event types
    ("fedex", "OC", None, "label_created", None),
    ("fedex", "PU", None, "picked_up", None),
    ("fedex", "IT", None, "in_transit", None),
    ("fedex", "AR", None, "in_transit", None),
    ("fedex", "DP", None, "in_transit", None),
    ("fedex", "OD", None, "out_for_delivery", None),
    ("fedex", "HL", None, "available_for_pickup", None),
    ("fedex", "DL", None, "delivered", None),
    ("fedex", "DE", None, "exception", None),
    ("fedex", "SE", None, "exception", None),
    ("fedex", "CA", None, "exception", "cancelled"),
    ("fedex", "CD", None, "exception", "customs"),
    ("fedex", "DY", None, "exception", "delayed"),
    ("fedex", "RS", None, "returned_to_sender", None),
    ("fedex", "AP", None, None, None),
    # DHL: unified status codes and checkpoint codes
    ("dhl", "pre-transit", None, "label_created", None),
    ("dhl", "transit", None, "in_transit", None),
    ("dhl", "delivered", None, "delivered", None),
    ("dhl", "failure", None, "exception", None),
    ("dhl", "unknown", None, None, None),
    ("dhl", "PU", None, "picked_up", None),
    ("dhl", "WC", None, "out_for_delivery", None),
    ("dhl", "NH", None, "delivery_attempted", None),
    ("dhl", "CC", None, "available_for_pickup", None),
    ("dhl", "OK", None, "delivered", None),
    ("dhl", "RD", None, "exception", "refused"),
    ("dhl", "BA", None, "exception", "address_problem"),
    ("dhl", "CD", None, "exception", "customs"),
    ("dhl", "RT", None, "returned_to_sender", None),
    # USPS: event codes
    ("usps", "GX", None, "label_created", None),
    ("usps", "03", None, "picked_up", None),
    ("usps", "10", None, "in_transit", None),
    ("usps", "07", None, "in_transit", None),
    ("usps", "59", None, "out_for_delivery", None),
    ("usps", "02", None, "delivery_attempted", None),
    ("usps", "16", None, "available_for_pickup", None),
    ("usps", "01", None, "delivered", None),
    ("usps", "04", None, "exception", "refused"),
    ("usps", "21", None, "exception", "address_problem"),
    ("usps", "09", None, "returned_to_sender", None),
    # generic: milestone names and reasons, any spelling
    ("ontrac", "Out for delivery", None, "out_for_delivery", None),
    ("ontrac", "out-for-delivery", None, "out_for_delivery", None),
    ("lasership", "DELIVERED", None, "delivered", None),
    ("tms", "weather", None, "exception", "weather"),
    ("tms", "damaged", None, "exception", "damaged"),
    ("tms", "customs", None, "exception", "customs"),
    # the coarse type is the fallback when the fine code is unknown
    ("ups", "Z9", "I", "in_transit", None),
    ("dhl", "QQ", "delivered", "delivered", None),
    ("fedex", "ZZ", "DL", "delivered", None),
    # a known fine code wins over the coarse type
    ("ups", "OT", "I", "out_for_delivery", None),
]


@pytest.mark.parametrize(("carrier", "code", "native_type", "milestone", "reason"), CASES)
def test_native_code_maps_to_milestone_and_reason(
    carrier: str, code: str, native_type: str | None, milestone: str | None, reason: str | None
) -> None:
    c = classify(carrier, code, native_type)
    assert (c.milestone, c.reason, c.unmapped) == (milestone, reason, False)


@pytest.mark.parametrize("carrier", ["ups", "fedex", "dhl", "usps", "ontrac"])
def test_unknown_native_code_is_unmapped_not_guessed(carrier: str) -> None:
    c = classify(carrier, "NOT-A-CODE-42")
    assert (c.milestone, c.reason, c.unmapped) == (None, None, True)


def test_unknown_code_with_unknown_type_is_unmapped() -> None:
    assert classify("ups", "Z9", "QQ").unmapped


def test_codes_are_looked_up_whatever_their_case_and_spacing() -> None:
    assert classify("dhl", " Pre Transit ").milestone == "label_created"
    assert classify("ups", "ot").milestone == "out_for_delivery"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_entry_is_a_contract_milestone_with_a_valid_reason(name: str) -> None:
    for key, entry in TABLES[name].items():
        assert key == normalise_code(key), key
        assert entry.milestone is None or entry.milestone in MILESTONES, key
        assert entry.reason is None or entry.reason in EXCEPTION_REASONS, key
        assert entry.reason is None or entry.milestone == "exception", key
        assert entry.meaning, key


def test_every_milestone_is_reachable_from_some_table() -> None:
    reached = {e.milestone for table in TABLES.values() for e in table.values()}
    assert set(MILESTONES) <= reached


def test_carrier_aliases_normalise_to_one_table() -> None:
    assert normalise_carrier(" UPS ") == "ups"
    assert normalise_carrier("FedEx Ground") == "fedex"
    assert normalise_carrier("DHL-Express") == "dhl"
    assert normalise_carrier("OnTrac") == "ontrac"
