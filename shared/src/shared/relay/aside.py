"""Moving an outbox event aside. An event the broker cannot take (Unpublishable), one that
breaks the service's published contract, or one that fails with any error other than a broker
outage is dead-lettered to `<service>.dlx` with failure-kind `unpublishable` and its reason,
recorded on its document (`poisoned`), counted and logged. It will never be published, so it
holds back none of its aggregate's later events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import json_util
from pydantic import ValidationError

from shared import failures as F
from shared.amqp_batch import shortstr_fits
from shared.envelope import CONTENT_TYPE, CloudEvent, short_errors
from shared.errors import Unpublishable
from shared.logging import get_logger
from shared.messaging import Outgoing
from shared.metrics import DLQ_PUBLISHED, OUTBOX_MOVED_ASIDE
from shared.relay.layout import OUTBOX
from shared.topology import dlx
from shared.uow import Contract

log = get_logger("shared.outbox")


@dataclass
class Aside:
    """One thing moved aside: what goes to the DLQ, why, and where it was going."""

    body: bytes
    error: BaseException
    exchange: str
    routing_key: str
    type: str | None
    event: dict[str, Any] | None  # the outbox event (None: a whole unreadable document)
    id: str  # the event's id, or the document's

    @classmethod
    def of_event(cls, e: dict[str, Any], error: BaseException) -> Aside:
        return cls(bytes(e["body"]), error, e["exchange"], e["routing_key"], e["type"], e, e["id"])

    @classmethod
    def of_document(cls, doc: dict[str, Any], why: str) -> Aside:
        """A document that cannot be read, whole, as MongoDB extended JSON."""
        return cls(
            json_util.dumps(doc).encode(), Unpublishable(why), "", "", None, None, str(doc["_id"])
        )

    def copy(self, service: str) -> Outgoing:
        """The dead-letter copy, with failure headers and only properties AMQP can carry (an
        id that does not fit is left out: the body has it)."""
        headers = F.failure_headers(
            previous={},
            exc=self.error,
            kind=Unpublishable.kind,
            service=service,
            queue=OUTBOX,
            exchange=self.exchange,
            routing_key=self.routing_key,
            event_type=self.type,
        )
        e = self.event or {}
        props: dict[str, Any] = {
            "type": self.type,
            "correlation_id": e.get("correlationid"),
            "timestamp": e.get("event_time"),
            "content_type": CONTENT_TYPE if self.event else "application/json",
            "delivery_mode": 2,
            "headers": headers,
        }
        if shortstr_fits(self.id):
            props["message_id"] = self.id
        key = self.routing_key if shortstr_fits(self.routing_key) else ""
        return Outgoing(dlx(service), key, self.body, props, self.type or "unknown")


async def dead_letter(
    publisher: Any, service: str, entries: list[Aside]
) -> list[BaseException | None]:
    """Copies of what is moved aside, to `<service>.dlx`; per entry None once the DLQ has
    it. A copy the broker cannot take either counts as done: its document records it, and
    it is logged."""
    answers = await publisher.publish_many([a.copy(service) for a in entries])
    out: list[BaseException | None] = []
    for a, answer in zip(entries, answers, strict=True):
        if isinstance(answer, Unpublishable):
            log.error(
                "outbox_dead_letter_impossible",
                event_id=a.id,
                reason=str(a.error)[:300],
                error=str(answer)[:300],
            )
            answer = None
        out.append(answer)
    return out


def contract_problem(service: str, contract: Contract, e: dict[str, Any]) -> str | None:
    """Why an event written without a check (an older document) breaks the contract of the
    service: its envelope, its type, or its data. None when it keeps it."""
    try:
        return _contract_problem(service, contract, e)
    except Exception as x:  # a validator that fails otherwise: still this event's problem
        return f"the event could not be checked against the contract: {x!r}"


def _contract_problem(service: str, contract: Contract, e: dict[str, Any]) -> str | None:
    try:
        ev = CloudEvent.model_validate_json(bytes(e["body"]))
    except ValidationError as x:
        return f"the event breaks the contract: its envelope: {short_errors(x)}"
    if ev.id != e["id"] or ev.type != e["type"]:
        return "the event breaks the contract: its body's id or type differs from the outbox's"
    model = contract.get(ev.type)
    if model is None:
        return f"the event breaks the contract: {service} does not publish {ev.type!r}"
    try:
        model.model_validate(ev.data)
    except ValidationError as x:
        return f"the event breaks the contract: data of {ev.type}: {short_errors(x)}"
    return None


def report(
    service: str, doc_id: Any, events: list[tuple[dict[str, Any], str]], unreadable: str | None
) -> None:
    """Count and log what one document had moved aside."""
    for e, why in events:
        OUTBOX_MOVED_ASIDE.labels(service).inc()
        DLQ_PUBLISHED.labels(service, e["type"], Unpublishable.kind).inc()
        log.error(
            "outbox_event_moved_aside",
            event_id=e["id"],
            type=e["type"],
            key=e["key"],
            correlation_id=e.get("correlationid"),
            outbox_id=doc_id,
            reason=why,
        )
    if unreadable is not None:
        OUTBOX_MOVED_ASIDE.labels(service).inc()
        DLQ_PUBLISHED.labels(service, "unknown", Unpublishable.kind).inc()
        log.error("outbox_document_moved_aside", outbox_id=doc_id, reason=unreadable)
