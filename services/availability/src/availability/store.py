"""Availability's MongoDB collections: documents <-> domain, indexes, read queries for the API.

`positions` documents carry the public numbers (same names as `availability.changed`, in base
units) next to the state they are derived from; `items` hold the item master by SKU;
`locations` holds one document per location that has ever had a position.

Positions have no secondary index: a position is written for almost every event, and each
write would pay for it (docs/benchmarks.md). The positions of a SKU are found instead by their
keys, `sku|location` for every known location, which is a lookup on `_id`. A location is
registered in the same transaction that creates its first position, so the list is never
behind the positions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from availability.domain.items import MICRO, Item, Stamp, to_units
from availability.domain.position import Movement, Position
from shared.mongo_uow import PRELOAD_CHUNK  # the size of an `$in` list

POSITIONS = "positions"
ITEMS = "items"
LOCATIONS = "locations"
LEGACY_INDEX = "sku_location"


def position_key(sku: str, location: str) -> str:
    """`sku|location`, with `%` and `|` escaped so that distinct pairs never share a key."""
    return f"{_esc(sku)}|{_esc(location)}"


def _esc(s: str) -> str:
    return s.replace("%", "%25").replace("|", "%7C")


def _stamp_doc(s: Stamp | None) -> dict[str, Any] | None:
    return None if s is None else {"at": s.at, "event_id": s.event_id}


def _stamp(d: dict[str, Any] | None) -> Stamp | None:
    return None if d is None else Stamp(d["at"], d["event_id"])


def _micro(v: Any) -> int:
    """A stored quantity back in millionths; exact for the magnitudes messages may carry."""
    return round(float(v) * MICRO)


def _m(doc: dict[str, Any], field: str) -> int:
    return _micro(doc.get(field) or 0.0)


def public_fields(p: Position) -> dict[str, Any]:
    """The numbers as `availability.changed` names them, in base units."""
    n = p.numbers()
    return {
        "sku": p.sku,
        "location": p.location,
        "on_hand": to_units(n.on_hand),
        "allocated": to_units(n.allocated),
        "quarantined": to_units(n.quarantined),
        "in_transit": to_units(n.in_transit),
        "inbound": to_units(n.inbound),
        "returns_pending": to_units(n.returns_pending),
        "safety_stock": to_units(n.safety_stock),
        "available_to_sell": to_units(n.available_to_sell),
        "available_to_promise": to_units(n.available_to_promise),
        "version": p.version,
        "as_of": p.as_of,
    }


def position_to_doc(p: Position, public: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored document; `public` is `public_fields(p)` when the caller has it already."""
    return {
        **(public if public is not None else public_fields(p)),
        "on_hand_base": to_units(p.on_hand_base),
        "movements": [
            {"at": m.at, "event_id": m.event_id, "delta": to_units(m.delta)} for m in p.movements
        ],
        "counted": _stamp_doc(p.counted),
        "folded_through": p.folded_through,
        "inbound_stamp": _stamp_doc(p.inbound_stamp),
        "returns_pending_stamp": _stamp_doc(p.returns_pending_stamp),
        "safety_stock_stamp": _stamp_doc(p.safety_stock_stamp),
    }


def position_from_doc(doc: dict[str, Any]) -> Position:
    as_of: datetime | None = doc.get("as_of")
    return Position(
        sku=doc["sku"],
        location=doc["location"],
        on_hand_base=_m(doc, "on_hand_base"),
        movements=tuple(
            Movement(m["at"], m["event_id"], _micro(m["delta"])) for m in doc.get("movements") or ()
        ),
        counted=_stamp(doc.get("counted")),
        folded_through=doc.get("folded_through"),
        allocated=_m(doc, "allocated"),
        quarantined=_m(doc, "quarantined"),
        in_transit=_m(doc, "in_transit"),
        inbound=_m(doc, "inbound"),
        inbound_stamp=_stamp(doc.get("inbound_stamp")),
        returns_pending=_m(doc, "returns_pending"),
        returns_pending_stamp=_stamp(doc.get("returns_pending_stamp")),
        safety_stock=_m(doc, "safety_stock"),
        safety_stock_stamp=_stamp(doc.get("safety_stock_stamp")),
        version=int(doc.get("version") or 0),
        as_of=as_of,
    )


def item_to_doc(item: Item) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "base_uom": item.base_uom,
        "conversions": [{"uom": u, "factor": f} for u, f in item.conversions],
        "safety_stock": [{"location": loc, "qty": to_units(q)} for loc, q in item.safety_stock],
        "updated": _stamp_doc(item.stamp),
        "safety_stock_updated": _stamp_doc(item.safety_stamp),
    }


def item_from_doc(doc: dict[str, Any] | None) -> Item | None:
    if doc is None:
        return None
    stamp = _stamp(doc["updated"])
    assert stamp is not None
    return Item(
        sku=doc["sku"],
        base_uom=doc["base_uom"],
        conversions=tuple((c["uom"], float(c["factor"])) for c in doc.get("conversions") or ()),
        stamp=stamp,
        safety_stock=tuple(
            (s["location"], _micro(s["qty"])) for s in doc.get("safety_stock") or ()
        ),
        safety_stamp=_stamp(doc.get("safety_stock_updated")),
    )


async def setup_store(db: Any) -> None:
    """Register every position's location when `locations` is empty but positions exist, or
    while the `sku_location` index is still there, and drop that index. Idempotent; replicas
    starting together may both do it."""
    legacy = LEGACY_INDEX in await db[POSITIONS].index_information()
    empty = await db[LOCATIONS].find_one({}, {"_id": 1}) is None
    if legacy or (empty and await db[POSITIONS].find_one({}, {"_id": 1}) is not None):
        for location in await db[POSITIONS].distinct("location"):
            await db[LOCATIONS].update_one(
                {"_id": location}, {"$setOnInsert": {"location": location}}, upsert=True
            )
    if legacy:
        await db[POSITIONS].drop_index(LEGACY_INDEX)


def location_doc(location: str) -> dict[str, Any]:
    return {"location": location}


async def known_locations(db: Any) -> list[str]:
    return sorted([d["_id"] async for d in db[LOCATIONS].find({}, {"_id": 1})])


async def find_positions(db: Any, skus: list[str]) -> list[Position]:
    """Every position of these SKUs, by SKU then location."""
    locations = await known_locations(db)
    keys = [position_key(sku, loc) for sku in sorted(set(skus)) for loc in locations]
    docs: list[dict[str, Any]] = []
    for i in range(0, len(keys), PRELOAD_CHUNK):
        docs += await db[POSITIONS].find({"_id": {"$in": keys[i : i + PRELOAD_CHUNK]}}).to_list()
    positions = [position_from_doc(d) for d in docs]
    return sorted(positions, key=lambda p: (p.sku, p.location))


async def find_position(db: Any, sku: str, location: str) -> Position | None:
    doc = await db[POSITIONS].find_one({"_id": position_key(sku, location)})
    return None if doc is None else position_from_doc(doc)


async def find_items(db: Any, skus: list[str]) -> dict[str, Item]:
    docs = await db[ITEMS].find({"_id": {"$in": skus}}).to_list(None)
    items = (item_from_doc(d) for d in docs)
    return {i.sku: i for i in items if i is not None}
