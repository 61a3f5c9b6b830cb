"""The outbox's documents: one per committed batch, written by the unit of work and read by the
relay and `distsync trace`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import bson
from bson import Binary, CodecOptions
from pymongo import ASCENDING

from shared.cloudevent import mirrored_properties
from shared.inbox import drop_index
from shared.messaging import Outgoing
from shared.uow import PendingEvent

OUTBOX = "outbox"
LEGACY_TTL = "sent_ttl"  # the TTL index earlier releases expired sent documents with
_PAYLOAD_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)
_FIELDS = ("id", "key", "exchange", "routing_key", "type")


def outbox_doc(events: list[PendingEvent], at: datetime) -> dict[str, Any]:
    """One outbox document per committed batch: one write instead of one per event.

    The events travel as one BSON blob (`payload`), which the database stores and copies as
    opaque bytes: the relay's read and its mark as sent then neither decode nor re-encode the
    events one by one. `outbox_events` also reads the older layout, an `events` array."""
    evs = []
    for pe in events:
        ev = pe.event
        evs.append(
            {
                "id": ev.id,
                "key": pe.key,
                "exchange": pe.exchange,
                "routing_key": ev.type,
                "type": ev.type,
                "correlationid": ev.correlationid,
                "causationid": ev.causationid,
                "body": pe.body if pe.body is not None else ev.to_json_bytes(),
                "event_time": ev.time,
            }
        )
    doc: dict[str, Any] = {
        "_id": events[0].event.id,
        "seq": time.time_ns(),
        "created_at": at,
        "sent_at": None,
        "n": len(evs),
        "correlationids": sorted({e["correlationid"] for e in evs if e["correlationid"]}),
        "payload": Binary(bson.encode({"events": evs})),
    }
    if all(pe.validated for pe in events):
        doc["validated"] = True  # checked against the contract when emitted: not again
    return doc


def outbox_events(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of one outbox document, in emission order, whichever layout it has."""
    if "payload" in doc:
        events: list[dict[str, Any]] = bson.decode(doc["payload"], _PAYLOAD_OPTIONS)["events"]
        return events
    return list(doc.get("events") or [])


def readable_events(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of a document, or ValueError when one lacks what publishing needs."""
    events = outbox_events(doc)
    for e in events:
        for name in _FIELDS:
            if not isinstance(e.get(name), str):
                raise ValueError(f"an event's {name!r} is missing or not text")
        if not isinstance(e.get("body"), bytes | bytearray):
            raise ValueError("an event's body is missing or not bytes")
    return events


def outgoing(e: dict[str, Any]) -> Outgoing:
    """An outbox event as the message the relay publishes."""
    return Outgoing(
        e["exchange"],
        e["routing_key"],
        bytes(e["body"]),
        mirrored_properties(e["id"], e["type"], e.get("correlationid"), e.get("event_time")),
        e["type"],
    )


async def setup(db: Any, *, index_correlation: bool = False) -> None:
    """The relay's index, which the retention purge also deletes sent documents by
    (`shared.retention`). The `correlationids` index, which only `distsync trace` reads, is
    opt-in (DISTSYNC_OUTBOX_CORRELATION_INDEX=true): a batch carries one entry per correlation
    id, written on insert and again when the relay marks it sent. Releases before the purge
    expired sent documents by a TTL index (`sent_ttl`); it is dropped at the first start."""
    await db[OUTBOX].create_index([("sent_at", ASCENDING), ("seq", ASCENDING)])
    names = [ix["name"] async for ix in await db[OUTBOX].list_indexes()]
    if LEGACY_TTL in names:
        await drop_index(db[OUTBOX], LEGACY_TTL)
    if index_correlation:
        await db[OUTBOX].create_index("correlationids")
