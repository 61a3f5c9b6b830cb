"""The committed AsyncAPI and OpenAPI documents are current, valid, and agree with the code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from distsync_ops import asyncapi, openapi
from shared.service import INGRESS_EXCHANGES
from shared.topology import all_services, full_topology

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_FILE = ROOT / "docs" / "asyncapi.json"
OPENAPI_DIR = ROOT / "docs" / "openapi"
ASYNCAPI_SCHEMA = Path(__file__).parent / "schemas" / "asyncapi-3.0.0.json"
SERVICES = all_services()
REGENERATE = "run `uv run distsync asyncapi && uv run distsync openapi` and commit the result"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(ASYNCAPI_FILE.read_text())


def payload_validator(doc: dict[str, Any], channel_id: str) -> jsonschema.Validator:
    """A validator for one channel's message payload, its `$ref`s resolved in the document."""
    channel = doc["channels"][channel_id]
    (message,) = channel["messages"].values()
    schema = {**message["payload"], "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return out + [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


def test_committed_asyncapi_document_is_current():
    expected = asyncapi.render(asyncapi.build(SERVICES))
    assert ASYNCAPI_FILE.exists(), f"docs/asyncapi.json is missing: {REGENERATE}"
    assert ASYNCAPI_FILE.read_text() == expected, f"docs/asyncapi.json is out of date: {REGENERATE}"


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_committed_openapi_document_of_each_service_is_current(svc):
    path = OPENAPI_DIR / f"{svc.name}.json"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: {REGENERATE}"
    expected = openapi.render(openapi.document(svc))
    assert path.read_text() == expected, f"{path.relative_to(ROOT)} is out of date: {REGENERATE}"


def test_no_openapi_document_is_left_for_a_service_that_no_longer_exists():
    names = {f"{s.name}.json" for s in SERVICES}
    assert {p.name for p in OPENAPI_DIR.glob("*.json")} == names


def test_asyncapi_document_is_valid_against_the_asyncapi_3_0_schema(doc):
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(doc)
    ]
    assert not errors, "\n".join(errors[:20])


def test_the_asyncapi_schema_check_rejects_an_invalid_document(doc):
    broken = json.loads(json.dumps(doc))
    first = next(iter(broken["operations"]))
    broken["operations"][first]["action"] = "publish"  # AsyncAPI 2 wording, invalid in 3.0
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert not validator.is_valid(broken)


def test_every_reference_in_the_asyncapi_document_resolves(doc):
    for ref in refs_in(doc):
        resolve(doc, ref)


def test_every_operation_uses_a_message_of_its_own_channel(doc):
    for op_id, op in doc["operations"].items():
        channel_ref = op["channel"]["$ref"]
        for m in op["messages"]:
            assert m["$ref"].startswith(channel_ref + "/messages/"), op_id


def test_every_binding_of_every_service_queue_is_a_channel_with_a_receive_operation(doc):
    topo = full_topology(SERVICES)
    for svc in SERVICES:
        for exchange, key in topo.queue(f"{svc.name}.main").bindings:
            channel = f"{exchange}.{key}"
            assert channel in doc["channels"], channel
            assert doc["channels"][channel]["address"] == key
            assert doc["channels"][channel]["bindings"]["amqp"]["exchange"]["name"] == exchange
            assert f"{svc.name}.receive.{channel}" in doc["operations"]


def test_every_publication_is_a_channel_on_the_service_exchange_with_a_send_operation(doc):
    for svc in SERVICES:
        for pub in svc.publishes:
            channel = f"{svc.exchange}.{pub.type}"
            assert doc["operations"][f"{svc.name}.send.{channel}"]["action"] == "send"


def test_nothing_is_consumed_from_a_service_exchange_that_its_service_does_not_publish(doc):
    for cid, channel in doc["channels"].items():
        exchange = channel["bindings"]["amqp"]["exchange"]["name"]
        if exchange not in INGRESS_EXCHANGES:
            assert channel["x-distsync-publisher"] == exchange.removesuffix(".events"), cid


def test_the_outside_systems_publish_the_ingress_exchanges(doc):
    senders = {
        op["x-distsync-actor"]
        for op in doc["operations"].values()
        if op["action"] == "send"
        and resolve(doc, op["channel"]["$ref"])["bindings"]["amqp"]["exchange"]["name"]
        in INGRESS_EXCHANGES
    }
    assert {"erp", "wms", "carrier", "commerce"} <= senders
    # every service's own exchange that carries events (the ingress publishes on the ingress
    # exchanges only: nothing flows on ingress.events, so it has no channel)
    assert set(doc["x-distsync-exchanges"]) >= set(INGRESS_EXCHANGES) | {
        s.exchange for s in SERVICES if s.publishes
    }


def test_the_contract_example_validates_and_a_broken_one_does_not(doc):
    example = {
        "specversion": "1.0",
        "id": "6f1c2a9e-2f5b-4a4e-9b1e-0d7c7c0f6a11",
        "source": "wms/dc-east",
        "type": "inventory.adjusted",
        "time": "2026-11-27T10:15:00.123Z",
        "datacontenttype": "application/json",
        "correlationid": "ORD-5001",
        "data": {
            "location": "DC-EAST",
            "sku": "SKU-1001",
            "qty_delta": -3,
            "reason_code": "DAMAGED",
            "user": "jdoe",
        },
    }
    validator = payload_validator(doc, "wms.events.inventory.adjusted")
    validator.validate(example)
    assert not validator.is_valid({**example, "data": {"location": "DC-EAST"}})
    assert not validator.is_valid({**example, "type": "inventory.counted"})


def test_an_event_a_service_emits_validates_against_its_channel(doc):
    from shared.envelope import build

    data = {
        "sku": "SKU-1",
        "location": "DC-EAST",
        "expected_on_hand": 10.0,
        "counted_on_hand": 8.0,
        "variance": -2.0,
        "counted_at": datetime(2026, 11, 27, tzinfo=UTC),
    }
    svc = next(s for s in SERVICES if s.name == "availability")
    pub = next(p for p in svc.publishes if p.type == "availability.variance_detected")
    event = build(pub.type, pub.model.model_validate(data), source="distsync/availability")
    validator = payload_validator(doc, "availability.events.availability.variance_detected")
    validator.validate(json.loads(event.to_json_bytes()))


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_openapi_document_is_valid_against_the_openapi_schema(svc):
    document = json.loads((OPENAPI_DIR / f"{svc.name}.json").read_text())
    validate_openapi(document)
    assert "/healthz" in document["paths"] and "/metrics" in document["paths"]
