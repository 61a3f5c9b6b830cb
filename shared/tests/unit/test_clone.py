"""`uow.get` hands out copies: changing one never changes the identity map."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bson import Decimal128

from shared.uow import InMemoryUnitOfWork, clone


def test_a_clone_shares_no_mutable_part_with_the_original() -> None:
    doc = {
        "a": [1, {"b": [2, 3]}],
        "t": datetime(2026, 1, 1, tzinfo=UTC),
        "d": Decimal128("1.5"),
        "x": Decimal("2"),
        "tup": ([1],),
    }
    c = clone(doc)
    assert c == doc
    c["a"][1]["b"].append(4)
    c["a"].append(5)
    c["tup"][0].append(2)
    assert doc == {
        "a": [1, {"b": [2, 3]}],
        "t": datetime(2026, 1, 1, tzinfo=UTC),
        "d": Decimal128("1.5"),
        "x": Decimal("2"),
        "tup": ([1],),
    }


async def test_changing_what_get_returned_does_not_change_the_next_get() -> None:
    uow = InMemoryUnitOfWork("t", {"c": {"k": {"_id": "k", "items": [{"n": 1}]}}})
    first = await uow.get("c", "k")
    assert first is not None
    first["items"][0]["n"] = 99
    again = await uow.get("c", "k")
    assert again is not None and again["items"][0]["n"] == 1
    uow.put("c", "k", {"items": [{"n": 2}]})
    put_back = await uow.get("c", "k")
    assert put_back is not None
    put_back["items"].clear()
    final = await uow.get("c", "k")
    assert final is not None and final["items"] == [{"n": 2}]
