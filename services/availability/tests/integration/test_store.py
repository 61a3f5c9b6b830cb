"""The positions store against the real database: positions of a SKU are found by key through
the locations list, which the handlers keep in step with the positions they create, and a
database written before that list existed is brought up to date at startup."""

from __future__ import annotations

from typing import Any

import pytest

from availability import store
from availability.domain.position import Position
from availability.handlers import preload_keys
from availability.messages import InventoryAdjusted, OrderAllocated

pytestmark = pytest.mark.integration


def _doc(sku: str, location: str, allocated: float = 0.0) -> dict[str, Any]:
    d = store.position_to_doc(Position(sku, location))
    d["allocated"] = allocated
    return {"_id": store.position_key(sku, location), **d}


async def test_positions_of_a_sku_are_found_for_every_registered_location(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    await store.setup_store(db)
    await db[store.POSITIONS].insert_many(
        [_doc("S|1", "B"), _doc("S|1", "A"), _doc("S", "A"), _doc("T", "C")]
    )
    for loc in ("A", "B", "C", "D"):
        await db[store.LOCATIONS].insert_one({"_id": loc, **store.location_doc(loc)})
    found = await store.find_positions(db, ["S|1", "T", "S|1"])
    assert [(p.sku, p.location) for p in found] == [("S|1", "A"), ("S|1", "B"), ("T", "C")]
    assert await store.find_positions(db, ["unknown"]) == []
    await mongo.drop_database(db_name)


async def test_startup_registers_the_locations_of_older_positions_and_drops_the_old_index(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    await db[store.POSITIONS].create_index([("sku", 1), ("location", 1)], name="sku_location")
    await db[store.POSITIONS].insert_many([_doc("S", "A"), _doc("S", "B"), _doc("T", "B")])
    assert await store.find_positions(db, ["S"]) == []  # nothing registered yet
    await store.setup_store(db)
    await store.setup_store(db)  # a second replica starting: no change, no error
    assert await store.known_locations(db) == ["A", "B"]
    assert "sku_location" not in await db[store.POSITIONS].index_information()
    assert [p.location for p in await store.find_positions(db, ["S"])] == ["A", "B"]
    await mongo.drop_database(db_name)


def test_every_location_a_handler_may_create_a_position_at_is_preloaded() -> None:
    adj = InventoryAdjusted(location="A", sku="S", qty_delta=1, reason_code="X")
    assert (store.LOCATIONS, "A") in preload_keys(adj)
    alloc = OrderAllocated.model_validate(
        {"order_id": "O", "lines": [{"sku": "S", "location": "B", "qty": 1}]}
    )
    assert (store.LOCATIONS, "B") in preload_keys(alloc)
