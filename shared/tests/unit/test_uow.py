from __future__ import annotations

from shared.envelope import build
from shared.uow import InMemoryUnitOfWork


async def test_reads_see_the_batch_s_own_writes_and_returned_documents_are_copies():
    uow = InMemoryUnitOfWork("svc", store={"c": {"k": {"_id": "k", "n": 1}}})
    doc = await uow.get("c", "k")
    doc["n"] = 99
    assert (await uow.get("c", "k"))["n"] == 1
    uow.put("c", "k", {"n": 2})
    assert (await uow.get("c", "k")) == {"n": 2, "_id": "k"}


async def test_a_read_only_get_returns_the_document_itself_and_still_sees_own_writes():
    uow = InMemoryUnitOfWork("svc", store={"c": {"k": {"_id": "k", "n": 1, "l": [1]}}})
    first = await uow.get("c", "k", copy=False)
    assert first is await uow.get("c", "k", copy=False)  # no copy made
    assert first == {"_id": "k", "n": 1, "l": [1]}
    copied = await uow.get("c", "k")
    assert copied == first and copied is not first and copied["l"] is not first["l"]
    uow.put("c", "k", {"n": 2})
    assert await uow.get("c", "k", copy=False) == {"n": 2, "_id": "k"}
    assert await uow.get("c", "missing", copy=False) is None


async def test_emitted_events_copy_correlation_and_set_causation_from_the_current_message():
    uow = InMemoryUnitOfWork("availability")
    uow.current = build("inventory.adjusted", {}, source="wms/x", correlationid="ORD-1")
    ev = uow.emit("availability.changed", {"sku": "A"}, key="A|L")
    assert ev.correlationid == "ORD-1" and ev.causationid == uow.current.id
    assert ev.source.startswith("availability/")
    assert uow.events[0].exchange == "availability.events"
