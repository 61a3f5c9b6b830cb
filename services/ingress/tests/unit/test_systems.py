"""Which system may publish which type where: the broker's least privilege, over HTTP."""

from __future__ import annotations

from ingress.domain.systems import Refusal, system_of, systems_of_scopes, where_to

TYPES = {
    "erp.events": frozenset({"order.created", "asn.received"}),
    "wms.events": frozenset({"inventory.counted"}),
    "carrier.events": frozenset({"tracking.reported"}),
    "commerce.events": frozenset({"asn.received"}),
}


def test_each_system_publishes_on_its_own_exchange():
    assert where_to("erp", "order.created", None, TYPES) == "erp.events"
    assert where_to("wms", "inventory.counted", None, TYPES) == "wms.events"
    assert where_to("tms", "tracking.reported", None, TYPES) == "carrier.events"
    assert where_to("edi", "asn.received", None, TYPES) == "commerce.events"


def test_a_type_another_exchange_carries_is_a_contract_violation():
    r = where_to("wms", "order.created", None, TYPES)
    assert isinstance(r, Refusal) and r.kind == "contract_violation"
    assert "wms.events" in r.reason


def test_a_type_nobody_consumes_is_unknown():
    r = where_to("erp", "order.teleported", None, TYPES)
    assert isinstance(r, Refusal) and r.kind == "unknown_type"


def test_an_unknown_system_or_one_the_caller_may_not_speak_for_is_forbidden():
    r = where_to("availability", "order.created", None, TYPES)
    assert isinstance(r, Refusal) and r.kind == "forbidden"
    r = where_to("erp", "order.created", frozenset({"wms"}), TYPES)
    assert isinstance(r, Refusal) and r.kind == "forbidden"
    assert "ingress:source:erp" in r.reason
    assert where_to("erp", "order.created", frozenset({"erp"}), TYPES) == "erp.events"


def test_systems_come_from_scopes_and_sources_case_insensitively():
    assert systems_of_scopes(frozenset({"ingress:source:WMS", "ingress:publish", "x"})) == {"wms"}
    assert system_of("ERP/Main") == "erp"
    assert system_of("wms") == "wms"
