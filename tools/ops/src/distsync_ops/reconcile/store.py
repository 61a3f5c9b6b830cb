"""The one place that reads the services' databases (read-only): availability's `positions` and
`items`, order-status's `orders`.

This couples the reconciliation to how those services store their state, which the contract
does not promise (docs/reconciliation.md says why it is done anyway: the HTTP API has no
on-hand history to place a position at the snapshot's time, and a million lookups over HTTP
would take hours). Every field name the reconciliation relies on is in this module, so a change
in either store is met here and nowhere else; the integration tests run the real services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

POSITIONS = "positions"
ITEMS = "items"
ORDERS = "orders"
IN_CHUNK = 100  # keys per `$in` query (SecantusDB answers long lists much slower)

POSITION_FIELDS = {
    "sku": 1,
    "location": 1,
    "on_hand": 1,
    "on_hand_base": 1,
    "movements": 1,
    "counted": 1,
    "folded_through": 1,
    "quarantined": 1,
    "as_of": 1,
}


def position_key(sku: str, location: str) -> str:
    """availability's position `_id`: `sku|location` with `%` and `|` escaped."""
    return f"{_esc(sku)}|{_esc(location)}"


def _esc(s: str) -> str:
    return s.replace("%", "%25").replace("|", "%7C")


@dataclass(frozen=True, slots=True)
class ItemUnits:
    """What the item master says about a SKU's units: base units per unit."""

    base_uom: str
    factors: dict[str, float]

    def factor(self, uom: str) -> float | None:
        if uom == self.base_uom:
            return 1.0
        return self.factors.get(uom)


@dataclass(frozen=True, slots=True)
class Databases:
    """The database of each service the reconciliation reads."""

    availability: str = "distsync_availability"
    order_status: str = "distsync_order_status"


async def positions_sorted(
    db: Any, locations: Iterable[str], sku_prefix: str = ""
) -> AsyncIterator[dict[str, Any]]:
    """Every position at `locations` (of SKUs starting with `sku_prefix`), by `_id`: the order
    in which the snapshot's keys are merged with them."""
    query: dict[str, Any] = {"location": {"$in": sorted(set(locations))}}
    if sku_prefix:
        low = _esc(sku_prefix)
        query["_id"] = {"$gte": low, "$lt": low + "\U0010ffff"}
    cur = db[POSITIONS].find(query, POSITION_FIELDS, batch_size=2_000).sort("_id", 1)
    async for doc in cur:
        yield doc


async def positions_by_key(db: Any, keys: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(keys), IN_CHUNK):
        part = keys[i : i + IN_CHUNK]
        async for doc in db[POSITIONS].find({"_id": {"$in": part}}, POSITION_FIELDS):
            found[doc["_id"]] = doc
    return found


async def item_units(db: Any, skus: list[str]) -> dict[str, ItemUnits]:
    found: dict[str, ItemUnits] = {}
    for i in range(0, len(skus), IN_CHUNK):
        part = skus[i : i + IN_CHUNK]
        cur = db[ITEMS].find({"_id": {"$in": part}}, {"sku": 1, "base_uom": 1, "conversions": 1})
        async for doc in cur:
            factors = {
                str(c["uom"]): float(c["factor"])
                for c in doc.get("conversions") or ()
                if isinstance(c, dict) and "uom" in c and "factor" in c
            }
            found[str(doc.get("sku", doc["_id"]))] = ItemUnits(str(doc["base_uom"]), factors)
    return found


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order's current status and the statuses it reached, with their event times."""

    status: str
    milestones: tuple[tuple[str, datetime], ...]


async def orders_by_id(db: Any, order_ids: list[str]) -> dict[str, OrderState]:
    found: dict[str, OrderState] = {}
    for i in range(0, len(order_ids), IN_CHUNK):
        part = order_ids[i : i + IN_CHUNK]
        cur = db[ORDERS].find({"_id": {"$in": part}}, {"status": 1, "milestones": 1})
        async for doc in cur:
            reached = tuple(
                sorted(
                    (
                        (str(m["status"]), m["at"])
                        for m in doc.get("milestones") or ()
                        if isinstance(m, dict) and isinstance(m.get("at"), datetime)
                    ),
                    key=lambda m: m[1],
                )
            )
            found[str(doc["_id"])] = OrderState(str(doc.get("status")), reached)
    return found
