"""The AsyncAPI 3.0 document of distsync, generated from the services' routes and publications.

One channel per (exchange, routing key); the payload is the CloudEvents envelope whose `data` is
the pydantic model's JSON schema. Who sends and who receives each channel are operations: the
services from their `ServiceDefinition`, the ERP, WMS, carriers and commerce systems as the
publishers of the ingress exchanges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.service import INGRESS_EXCHANGES, ServiceDefinition
from shared.topology import dlq, main_queue

VERSION = "1.0.0"
CONTENT_TYPE = "application/cloudevents+json"
# Who publishes on each ingress exchange (contract section 2).
INGRESS_SYSTEMS = {
    "erp.events": ("erp", "The ERP: orders, allocations, purchase orders, item master, RMAs."),
    "wms.events": ("wms", "The WMS: stock movements, counts, receipts, picks, packs, shipments."),
    "carrier.events": ("carrier", "Carrier and TMS adapters: native tracking scans."),
    "commerce.events": ("commerce", "eCommerce, EDI gateway and customer portal."),
}
_ENVELOPE_DOC = (
    "Every message body is a CloudEvents 1.0 structured-JSON object. `id` is the idempotency key, "
    "`type` equals the AMQP routing key, `time` is the event time at the source. AMQP properties "
    "mirror the envelope: message_id=id, type=type, correlation_id=correlationid, timestamp, "
    "delivery_mode=2. A message that is not valid JSON, not a CloudEvent, of an unknown type or "
    "whose `data` fails its schema goes to the consuming service's dead-letter queue, never "
    "dropped and never retried. Ingress exchanges have the alternate exchange `unrouted`."
)


@dataclass
class _Channel:
    exchange: str
    type: str
    publisher: str | None = None  # a service name; None for an ingress exchange
    description: str = ""
    schema_refs: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    also_sent_by: list[str] = field(default_factory=list)  # services relaying an ingress type

    @property
    def id(self) -> str:
        return f"{self.exchange}.{self.type}"


class _Schemas:
    """components/schemas: every model and its nested models, namespaced by service package."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def add(self, model: type[BaseModel], mode: str) -> str:
        """Register `model`; return the `$ref` to it."""
        ns = model.__module__.split(".", 1)[0]
        ref = f"#/components/schemas/{ns}.{{model}}"
        schema = model.model_json_schema(
            ref_template=ref,
            mode="serialization" if mode == "serialization" else "validation",
        )
        for name, sub in schema.pop("$defs", {}).items():
            self._put(f"{ns}.{name}", sub)
        key = f"{ns}.{model.__name__}"
        self._put(key, schema)
        return f"#/components/schemas/{key}"

    def _put(self, key: str, schema: dict[str, Any]) -> None:
        old = self.schemas.get(key)
        if old is not None and old != schema:
            raise ValueError(f"two different schemas are both named {key!r}")
        self.schemas[key] = schema


def _envelope(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 envelope with distsync's correlation extensions.",
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**text, "maxLength": 256, "description": "Idempotency key."},
            "source": {
                **text,
                "maxLength": 256,
                "description": "`<system>/<instance>`; selects the status-mapping table.",
            },
            "type": {"const": type_, "description": "Equals the AMQP routing key."},
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened at the source (event time), RFC 3339.",
            },
            "datacontenttype": {"const": "application/json"},
            "subject": {"type": "string"},
            "correlationid": {
                "type": "string",
                "description": "Business flow (order, PO or RMA id); copied onto derived events.",
            },
            "causationid": {"type": "string", "description": "`id` of the event that caused it."},
            "data": data,
        },
    }


def _collect(services: Iterable[ServiceDefinition], schemas: _Schemas) -> dict[str, _Channel]:
    channels: dict[str, _Channel] = {}
    services = list(services)
    for svc in services:
        for pub in svc.publishes:
            ch = _Channel(svc.exchange, pub.type, svc.name, pub.description)
            ch.schema_refs.append(schemas.add(pub.model, "serialization"))
            channels[ch.id] = ch
    for svc in services:
        for route in svc.routes:
            for ex in route.exchanges:
                ch = channels.setdefault(f"{ex}.{route.type}", _Channel(ex, route.type))
                if ch.publisher is None:  # ingress: every consumer's schema must hold
                    ref = schemas.add(route.model, "validation")
                    if ref not in ch.schema_refs:
                        ch.schema_refs.append(ref)
                if svc.name not in ch.consumers:
                    ch.consumers.append(svc.name)
    for svc in services:
        # `extra={"sends": [(exchange, type), ...]}`: a service that also publishes on an
        # exchange it does not own (carrier-tracking's webhooks publish tracking.reported).
        for ex, type_ in svc.extra.get("sends", ()):
            relayed = channels.get(f"{ex}.{type_}")
            if relayed is not None and svc.name not in relayed.also_sent_by:
                relayed.also_sent_by.append(svc.name)
    return channels


def _message(ch: _Channel) -> dict[str, Any]:
    refs = sorted(ch.schema_refs)
    data: dict[str, Any] = (
        {"$ref": refs[0]} if len(refs) == 1 else {"allOf": [{"$ref": r} for r in refs]}
    )
    who = ch.publisher or INGRESS_SYSTEMS.get(ch.exchange, (ch.exchange, ""))[0]
    desc = ch.description or f"`{ch.type}` published by {who} on `{ch.exchange}`."
    if ch.publisher is None and len(refs) > 1:
        desc += " Its `data` must satisfy the schema of every consuming service (allOf)."
    return {
        "name": ch.type,
        "title": ch.type,
        "summary": desc,
        "contentType": CONTENT_TYPE,
        "correlationId": {"location": "$message.payload#/correlationid"},
        "payload": _envelope(ch.type, data),
        "bindings": {"amqp": {"messageType": ch.type, "bindingVersion": "0.3.0"}},
    }


def _channel(ch: _Channel) -> dict[str, Any]:
    who = ch.publisher or INGRESS_SYSTEMS.get(ch.exchange, (ch.exchange, ""))[0]
    consumers = ", ".join(sorted(ch.consumers)) or "no distsync service (external subscribers)"
    return {
        "address": ch.type,
        "title": f"{ch.type} on {ch.exchange}",
        "description": f"Published by {who}; consumed by {consumers}.",
        "messages": {ch.type: _message(ch)},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": ch.exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                },
                "bindingVersion": "0.3.0",
            }
        },
        "x-distsync-publisher": who,
        "x-distsync-consumers": sorted(ch.consumers),
    }


def _operation(ch: _Channel, actor: str, action: str) -> dict[str, Any]:
    ref = {"$ref": f"#/channels/{ch.id}"}
    op: dict[str, Any] = {
        "action": action,
        "channel": ref,
        "messages": [{"$ref": f"#/channels/{ch.id}/messages/{ch.type}"}],
        "title": f"{actor} {action}s {ch.type}",
        "tags": [{"name": actor}],
        "x-distsync-actor": actor,
    }
    if action == "send":
        amqp: dict[str, Any] = {"deliveryMode": 2, "timestamp": True, "bindingVersion": "0.3.0"}
        if ch.publisher is not None:
            amqp["mandatory"] = True
        op["summary"] = f"Publish `{ch.type}` on `{ch.exchange}` with publisher confirms."
        op["bindings"] = {"amqp": amqp}
    else:
        op["summary"] = f"Consumed from queue `{main_queue(actor)}`; failures go to `{dlq(actor)}`."
        op["bindings"] = {"amqp": {"ack": True, "bindingVersion": "0.3.0"}}
        op["x-distsync-queue"] = main_queue(actor)
        op["x-distsync-dead-letter-queue"] = dlq(actor)
    return op


def build(services: Iterable[ServiceDefinition]) -> dict[str, Any]:
    """The whole AsyncAPI 3.0.0 document for these services."""
    services = list(services)
    schemas = _Schemas()
    channels = _collect(services, schemas)
    operations: dict[str, dict[str, Any]] = {}
    for ch in channels.values():
        sender = ch.publisher or INGRESS_SYSTEMS.get(ch.exchange, (ch.exchange, ""))[0]
        for actor in (sender, *ch.also_sent_by):
            operations[f"{actor}.send.{ch.id}"] = _operation(ch, actor, "send")
        for consumer in ch.consumers:
            operations[f"{consumer}.receive.{ch.id}"] = _operation(ch, consumer, "receive")
    tags = [{"name": s, "description": d} for s, d in INGRESS_SYSTEMS.values()]
    tags += [{"name": s.name, "description": _first_line(s.description)} for s in services]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "distsync events",
            "version": VERSION,
            "description": _ENVELOPE_DOC,
            "tags": sorted(tags, key=lambda t: t["name"]),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "production": {
                "host": "rabbitmq:5672",
                "pathname": "/distsync",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "docker-compose and Kubernetes: vhost `distsync`, one user each.",
            },
            "local": {
                "host": "127.0.0.1:5672",
                "pathname": "/",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "`make run` on a developer machine (default vhost).",
            },
        },
        "channels": {cid: _channel(ch) for cid, ch in channels.items()},
        "operations": operations,
        "components": {"schemas": schemas.schemas},
        "x-distsync-exchanges": sorted(
            {ch.exchange for ch in channels.values()} | set(INGRESS_EXCHANGES)
        ),
    }


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "A distsync service."


def render(doc: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
