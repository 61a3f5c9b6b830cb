"""Faults the network and the systems around distsync produce: the same event delivered twice,
events overtaking each other, bodies that are not what they should be, and (with --chaos) a
service killed, the broker restarted, the database stopped.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from distsync_sim.simulate.events import CARRIER, ERP, WMS, SimEvent
from shared.envelope import build, format_time


@dataclass
class Outgoing:
    event: SimEvent
    duplicate: bool = False
    waited: int = 0  # times others were delivered before it while it was in the window


class Delivery:
    """Sliding-window delivery: up to `window` events may overtake each other, except those
    sharing a causal key (a WMS cannot inspect a return before receiving it); a duplicate is
    the same event (same id, same body) delivered again a little later."""

    def __init__(self, rng: random.Random, window: int, dup_rate: float) -> None:
        self.rng = rng
        self.window = max(1, window)
        self.dup_rate = dup_rate
        self.buf: list[Outgoing] = []
        self.delayed: list[tuple[int, Outgoing]] = []
        self.duplicates = 0
        self.overtaken = 0

    def push(self, ev: SimEvent) -> list[Outgoing]:
        self.buf.append(Outgoing(ev))
        if self.dup_rate and self.rng.random() < self.dup_rate:
            self.duplicates += 1
            self.delayed.append((self.rng.randint(0, 2 * self.window), Outgoing(ev, True)))
        still: list[tuple[int, Outgoing]] = []
        for n, o in self.delayed:
            if n <= 0:
                self.buf.append(o)
            else:
                still.append((n - 1, o))
        self.delayed = still
        out = []
        while len(self.buf) > self.window:
            out.append(self._take())
        return out

    def flush(self) -> list[Outgoing]:
        self.buf.extend(o for _, o in self.delayed)
        self.delayed = []
        out = []
        while self.buf:
            out.append(self._take())
        return out

    def _take(self) -> Outgoing:
        """Any event of the window whose causal predecessors have gone; one that has waited a
        whole window goes first, so no event is held back more than about two windows."""
        blocked: set[str] = set()
        eligible: list[int] = []
        for i, o in enumerate(self.buf[: self.window]):
            keys = () if o.duplicate else o.event.causal
            if not any(k in blocked for k in keys):
                eligible.append(i)
            blocked.update(keys)
        if self.window <= 1 or self.buf[0].waited >= self.window:
            i = 0
        else:
            i = self.rng.choice(eligible)
        for o in self.buf[:i]:
            o.waited += 1
        if i > 0:
            self.overtaken += 1
        return self.buf.pop(i)


@dataclass
class BadMessage:
    """A message that must end in the dead-letter queue of every service bound for it."""

    kind: str  # the failure-kind header expected
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    note: str
    services: tuple[str, ...] = ()  # filled in from the bindings
    single_consumer: bool = False  # valid for some services would be invalid for others


@dataclass
class BadFactory:
    rng: random.Random
    skus: list[str]
    # the run's id namespace: a later run with the same seed on the same broker gives its bad
    # messages other ids, so their dead letters are never mistaken for this run's
    namespace: uuid.UUID = uuid.NAMESPACE_OID
    made: dict[str, int] = field(default_factory=dict)

    def make(self) -> BadMessage:
        kinds = ("malformed", "not_cloudevent", "unknown_type", "schema_invalid", "rejected")
        kind = self.rng.choices(kinds, (0.2, 0.2, 0.2, 0.3, 0.1))[0]
        self.made[kind] = self.made.get(kind, 0) + 1
        mid = str(uuid.uuid5(self.namespace, f"bad/{self.rng.getrandbits(128)}"))
        made: BadMessage = getattr(self, "_" + kind)(mid)
        return made

    def _ce(self, mid: str, type: str, data: dict[str, Any], source: str) -> bytes:
        ev = build(type, data, source=source, id=mid, time=datetime.now(UTC))
        return ev.to_json_bytes()

    def _malformed(self, mid: str) -> BadMessage:
        key = self.rng.choice(("inventory.adjusted", "shipment.shipped", "return.received"))
        body = self.rng.choice(
            (
                b'{"specversion":"1.0","id":"' + mid.encode() + b'","type":"' + key.encode(),
                b"\xff\xfeWMS-EXPORT;" + mid.encode() + b";;;",
                b"<shipment><id>" + mid.encode() + b"</id></shipment>",
            )
        )
        return BadMessage("malformed", WMS, key, body, mid, "body is not JSON")

    def _not_cloudevent(self, mid: str) -> BadMessage:
        r = self.rng.random()
        if r < 0.5:
            body = json.dumps(
                {"id": mid, "type": "order.created", "data": {"order_id": "X"}}
            ).encode()
            return BadMessage(
                "not_cloudevent", ERP, "order.created", body, mid, "no specversion or source"
            )
        body = json.dumps([{"tracking": mid, "time": format_time(datetime.now(UTC))}]).encode()
        return BadMessage("not_cloudevent", CARRIER, "tracking.reported", body, mid, "a JSON array")

    def _unknown_type(self, mid: str) -> BadMessage:
        if self.rng.random() < 0.5:
            body = self._ce(
                mid, "inventory.teleported", {"sku": self.rng.choice(self.skus)}, "wms/dc-east"
            )
            return BadMessage(
                "unknown_type", WMS, "inventory.counted", body, mid, "type no service handles"
            )
        body = self._ce(mid, "purchase_order.exploded", {"po_id": "PO-X"}, "erp/sap")
        return BadMessage(
            "unknown_type", ERP, "purchase_order.released", body, mid, "type no service handles"
        )

    def _schema_invalid(self, mid: str) -> BadMessage:
        sku = self.rng.choice(self.skus)
        options: list[tuple[str, str, dict[str, Any], str, str]] = [
            (
                WMS,
                "inventory.adjusted",
                {"location": "DC-EAST", "sku": sku, "qty_delta": "lots", "reason_code": "X"},
                "wms/dc-east",
                "qty_delta is not a number",
            ),
            (
                CARRIER,
                "tracking.reported",
                {"carrier": "ups", "native_code": "D"},
                "carrier/ups",
                "no tracking_number",
            ),
            (
                WMS,
                "return.received",
                {"rma_id": "RMA-X", "location": "DC-WEST", "lines": [{"sku": sku, "qty": -2}]},
                "wms/dc-west",
                "negative quantity",
            ),
            (
                ERP,
                "order.created",
                {"order_id": "SO-X", "channel": "web", "customer_id": "C", "lines": []},
                "erp/sap",
                "an order without lines",
            ),
            (
                WMS,
                "receipt.recorded",
                {
                    "receipt_id": "RC-X",
                    "location": "DC-EAST",
                    "lines": [{"sku": sku, "qty_received": 1, "qty_damaged": 3}],
                },
                "wms/dc-east",
                "more damaged than received",
            ),
        ]
        ex, key, data, source, note = self.rng.choice(options)
        body = self._ce(mid, key, data, source)
        return BadMessage("schema_invalid", ex, key, body, mid, note, single_consumer=True)

    def _rejected(self, mid: str) -> BadMessage:
        sku = self.rng.choice(self.skus)
        data = {
            "location": "DC-WEST",
            "sku": sku,
            "qty_delta": 2,
            "uom": "DRUM",
            "reason_code": "FOUND",
            "user": "clerk1",
        }
        body = self._ce(mid, "inventory.adjusted", data, "wms/dc-west")
        return BadMessage(
            "rejected",
            WMS,
            "inventory.adjusted",
            body,
            mid,
            "a unit of measure the item master does not know",
            single_consumer=True,
        )


@dataclass(frozen=True)
class ChaosAction:
    at: float  # fraction of the run's events
    action: str  # "kill", "broker", "database"
    target: str | None = None
    down_s: float = 2.0


def chaos_plan(
    rng: random.Random, actions: tuple[str, ...], services: tuple[str, ...]
) -> list[ChaosAction]:
    """Spread the requested actions over the middle of the run, in a seeded order."""
    out = []
    slots = [0.3, 0.5, 0.7, 0.85]
    for i, a in enumerate(actions):
        at = slots[i % len(slots)]
        if a == "kill":
            out.append(ChaosAction(at, "kill", rng.choice(services), 1.5))
        elif a.startswith("kill:"):
            out.append(ChaosAction(at, "kill", a.split(":", 1)[1], 1.5))
        elif a == "broker":
            out.append(ChaosAction(at, "broker", None, 3.0))
        elif a == "database":
            out.append(ChaosAction(at, "database", None, 5.0))
        else:
            raise ValueError(f"unknown chaos action {a!r}: kill[:SERVICE], broker, database")
    return out
