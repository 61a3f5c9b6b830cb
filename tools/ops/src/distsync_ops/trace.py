"""Follow one `correlationid` across every service's inbox and outbox: the event chain.

Each service records what it consumed (inbox: id, type, event time, commit time) and what it
emitted (outbox: id, type, causationid, event time, write and publish times). Joined on event
ids, they show which system started a flow, which service consumed each event when, and what it
caused, without reading any log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared import inbox as inboxes
from shared.outbox import outbox_events
from shared.service import SERVICE_NAMES

DBS_ENV = "DISTSYNC_TRACE_DBS"


def database_names(
    services: Iterable[str] = SERVICE_NAMES, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Service -> database: `distsync_<service>`, or as `DISTSYNC_TRACE_DBS` (JSON) overrides."""
    env = os.environ if env is None else env
    names = {s: "distsync_" + s.replace("-", "_") for s in services}
    raw = env.get(DBS_ENV)
    if raw:
        overrides = json.loads(raw)
        if not isinstance(overrides, dict):
            raise ValueError(f"{DBS_ENV} must be a JSON object of service -> database name")
        names.update({str(k): str(v) for k, v in overrides.items()})
    return names


@dataclass
class Consumption:
    service: str
    at: datetime | None  # commit time of the batch that applied it


@dataclass
class TraceEvent:
    """One event of the flow, with every service that consumed it and who emitted it."""

    id: str
    type: str
    time: datetime | None = None  # event time at its source
    emitted_by: str | None = None  # a distsync service; None: an outside system
    emitted_at: datetime | None = None  # written to the outbox
    sent_at: datetime | None = None  # confirmed by the broker
    exchange: str | None = None
    causationid: str | None = None
    consumed_by: list[Consumption] = field(default_factory=list)

    @property
    def first_seen(self) -> datetime | None:
        times = [t for t in [self.emitted_at, *(c.at for c in self.consumed_by)] if t]
        return min(times) if times else self.time


@dataclass
class Trace:
    correlationid: str
    events: list[TraceEvent]
    unreachable: dict[str, str] = field(default_factory=dict)  # service -> error

    def roots(self) -> list[TraceEvent]:
        ids = {e.id for e in self.events}
        return [e for e in self.events if e.causationid not in ids]

    def children(self, event_id: str) -> list[TraceEvent]:
        return [e for e in self.events if e.causationid == event_id]

    def services(self) -> list[str]:
        seen = {c.service for e in self.events for c in e.consumed_by}
        seen |= {e.emitted_by for e in self.events if e.emitted_by}
        return sorted(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "correlationid": self.correlationid,
            "services": self.services(),
            "events": [_jsonable(asdict(e)) for e in self.events],
            "unreachable": self.unreachable,
        }


async def collect(client: Any, dbs: Mapping[str, str], correlationid: str) -> Trace:
    """Read the inbox and outbox of every service database for one correlation id."""
    events: dict[str, TraceEvent] = {}
    unreachable: dict[str, str] = {}
    for service, db_name in sorted(dbs.items()):
        db = client[db_name]
        try:
            inbox = [d async for d in inboxes.find(db, {"correlationid": correlationid})]
            batches = await db["outbox"].find({"correlationids": correlationid}).to_list()
            outbox = [
                {
                    **e,
                    "_id": e["id"],
                    "created_at": b.get("created_at"),
                    "sent_at": b.get("sent_at"),
                }
                for b in batches
                for e in outbox_events(b)
                if e.get("correlationid") == correlationid
            ]
        except Exception as e:  # one unreachable store must not hide the others
            unreachable[service] = f"{type(e).__name__}: {e}"[:300]
            continue
        for d in outbox:
            ev = events.setdefault(str(d["_id"]), TraceEvent(str(d["_id"]), str(d.get("type"))))
            ev.emitted_by = service
            ev.time = d.get("event_time") or ev.time
            ev.emitted_at = d.get("created_at")
            ev.sent_at = d.get("sent_at")
            ev.exchange = d.get("exchange")
            ev.causationid = d.get("causationid")
        for d in inbox:
            ev = events.setdefault(str(d["_id"]), TraceEvent(str(d["_id"]), str(d.get("type"))))
            ev.time = ev.time or d.get("time")
            ev.consumed_by.append(Consumption(service, d.get("at")))
    for ev in events.values():
        ev.consumed_by.sort(key=lambda c: (_key(c.at), c.service))
    ordered = sorted(events.values(), key=lambda e: (_key(e.first_seen), _key(e.time), e.id))
    return Trace(correlationid, ordered, unreachable)


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def _key(t: datetime | None) -> str:
    return t.isoformat() if t else "~"


def _t(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if t else "-"


def format_text(trace: Trace) -> str:
    """A timeline, then the causation tree."""
    lines = [
        f"correlationid {trace.correlationid}: {len(trace.events)} events, "
        f"services {', '.join(trace.services()) or '-'}",
        "",
        "timeline (UTC):",
    ]
    rows: list[tuple[str, int, str]] = []
    for e in trace.events:
        if e.emitted_by:
            cause = f" caused by {e.causationid}" if e.causationid else ""
            sent = f", sent {_t(e.sent_at)}" if e.sent_at else ", NOT SENT YET"
            rows.append(
                (
                    _key(e.emitted_at),
                    1,
                    f"  {_t(e.emitted_at)}  {e.emitted_by:<17} emitted   {e.type} "
                    f"[{e.id}] on {e.exchange}{cause}{sent}",
                )
            )
        for c in e.consumed_by:
            origin = e.emitted_by or "outside system"
            rows.append(
                (
                    _key(c.at),
                    0,
                    f"  {_t(c.at)}  {c.service:<17} consumed  {e.type} [{e.id}] from {origin}, "
                    f"event time {_t(e.time)}",
                )
            )
    lines += [text for _, _, text in sorted(rows, key=lambda r: (r[0], r[1]))]
    lines += ["", "causation:"]

    shown: set[str] = set()

    def walk(e: TraceEvent, depth: int) -> None:
        if e.id in shown:  # defensive: causation never loops, but stored data may be odd
            return
        shown.add(e.id)
        who = e.emitted_by or "outside system"
        by = ", ".join(c.service for c in e.consumed_by) or "no distsync service"
        lines.append(f"  {'  ' * depth}{e.type} [{e.id}] from {who} -> consumed by {by}")
        for child in trace.children(e.id):
            walk(child, depth + 1)

    for root in trace.roots():
        walk(root, 0)
    for service, err in sorted(trace.unreachable.items()):
        lines.append(f"warning: {service} store unreachable: {err}")
    return "\n".join(lines)
