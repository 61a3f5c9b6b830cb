"""An X12 interchange in: each transaction set (856, 940, 945) mapped to events, admitted and
published like any other, and a 997/999 that says which sets were accepted and what was wrong
with the others."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingress import store, x12io
from ingress.admission import Admitted, Gate, Refused
from ingress.domain.x12 import Group, Interchange, TransactionSet
from ingress.domain.x12_in import Mapped, map_856
from ingress.domain.x12_out import Party, acknowledgment, rejected
from ingress.domain.x12_warehouse import map_940, map_945
from ingress.intake import ACCEPTED, FAILED, Publish, take
from ingress.settings import IngressSettings
from shared.cloudevent import format_time

# transaction set -> its mapping and the system its events come from: suppliers' ship notices
# through the EDI gateway (commerce.events), a warehouse's advice as a WMS, a depositor's
# shipping order as the ERP (contract §2)
MAPPERS: dict[str, tuple[Callable[[TransactionSet, frozenset[str]], Mapped], str]] = {
    "856": (map_856, "edi"),
    "945": (map_945, "wms"),
    "940": (map_940, "erp"),
}


@dataclass
class Received:
    status: int
    body: dict[str, Any]
    ack: str | None


def _event_id(ic: Interchange, g: Group, ts: TransactionSet, n: int) -> str:
    key = f"{ic.sender}|{ic.control}|{g.control}|{ts.control}|{n}".encode()
    return "edi-" + hashlib.sha256(key).hexdigest()[:32]


async def receive(
    text: str,
    *,
    publish: Publish,
    db: Any,
    gate: Gate,
    settings: IngressSettings,
    allowed: frozenset[str] | None,
) -> Received:
    try:
        ic = x12io.read(text)
    except x12io.X12Unreadable as e:
        return Received(400, {"detail": str(e)}, None)
    base_uoms = frozenset(u.upper() for u in settings.ingress_edi_base_uoms)
    now = datetime.now(UTC)
    per_set: dict[int, list[Admitted]] = {}
    reasons: dict[int, list[str]] = {}
    for g, ts in ic.all_sets:
        key = id(ts)
        reasons[key] = [r for _, r in ts.set_errors] + [e.reason for e in ts.seg_errors]
        reasons[key] += [r for _, r in g.errors] + [r for _, r in ic.errors]
        found = MAPPERS.get(ts.code)
        if found is None:
            ts.set_errors.append(("1", f"transaction set {ts.code} is not accepted here"))
            reasons[key].append(ts.set_errors[-1][1])
            continue
        if reasons[key]:
            continue
        mapper, system = found
        source = f"{system}/{ic.sender.lower() or 'unknown'}"
        mapped = mapper(ts, base_uoms)
        if mapped.errors:
            ts.seg_errors.extend(mapped.errors)
            reasons[key] += [e.reason for e in mapped.errors]
            continue
        admitted: list[Admitted] = []
        for n, (type_, data, time, corr) in enumerate(mapped.events, start=1):
            obj: dict[str, Any] = {
                "specversion": "1.0",
                "id": _event_id(ic, g, ts, n),
                "source": source,
                "type": type_,
                "time": time or format_time(now),
                "data": data,
                "subject": f"{ts.code}/{ts.control}",
            }
            if corr:
                obj["correlationid"] = corr
            got = gate.admit_object(obj, allowed)
            if isinstance(got, Refused):
                ts.set_errors.append(("5", got.reason))
                reasons[key].append(got.reason)
            else:
                admitted.append(got)
        if not reasons[key]:
            per_set[key] = admitted
    if ic.errors:  # an interchange in error is refused whole (an X12 TA1 would say so)
        per_set.clear()
        for _, ts in ic.all_sets:
            ts.set_errors.append(("5", "the interchange envelope is in error"))
    everything = [a for evs in per_set.values() for a in evs]
    outcomes = await take(publish, db, settings, everything, "edi") if everything else []
    if any(o.status == FAILED for o in outcomes):
        return Received(503, {"detail": "the broker did not take every event: send it again"}, None)
    status_of = {o.id: o.status for o in outcomes}
    for _, ts in ic.all_sets:  # an id reused for other content, or in flight: not accepted
        for a in per_set.get(id(ts), []):
            o = next(o for o in outcomes if o.id == a.event.id)
            if o.status not in (ACCEPTED, store.DUPLICATE):
                ts.set_errors.append(("5", o.reason or o.status))
                reasons[id(ts)].append(o.reason or o.status)
    us = Party(settings.ingress_edi_sender_qualifier, settings.ingress_edi_sender_id)
    ack = x12io.write(acknowledgment(ic, us, await store.next_control(db, "ack"), now))
    sets = []
    for g, ts in ic.all_sets:
        evs = per_set.get(id(ts), [])
        ok = id(ts) in per_set and not rejected(ts) and not g.errors
        sets.append(
            {
                "group": g.control,
                "set": ts.control,
                "code": ts.code,
                "status": "accepted" if ok else "rejected",
                "errors": reasons[id(ts)],
                "events": [
                    {"id": a.event.id, "type": a.event.type, "status": status_of.get(a.event.id)}
                    for a in evs
                ],
            }
        )
    all_ok = all(s["status"] == "accepted" for s in sets) and not ic.errors and sets
    body: dict[str, Any] = {
        "interchange": ic.control,
        "sender": ic.sender,
        "errors": [r for _, r in ic.errors],
        "transactions": sets,
        "ack": ack,
    }
    accepted = sum(1 for o in outcomes if o.status == ACCEPTED)
    body["events_accepted"] = accepted
    return Received(202 if all_ok else 422, body, ack)
