"""The MongoDB unit of work: reads inside the batch transaction, one bulk write per collection."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne

from shared.relay.layout import OUTBOX, outbox_doc
from shared.uow import BaseUnitOfWork, Contract

# keys per `$in` query: the embedded test server answers a long list faster in chunks
PRELOAD_CHUNK = 50


class MongoUnitOfWork(BaseUnitOfWork):
    """A unit of work inside one MongoDB session's open transaction."""

    def __init__(
        self,
        service: str,
        db: Any,
        session: Any,
        settings: Any = None,
        *,
        contract: Contract | None = None,
    ) -> None:
        super().__init__(service, settings, contract=contract)
        self.db = db
        self.session = session

    async def preload(self, wanted: dict[str, set[str]]) -> None:
        """Read many aggregates with one query per collection (what handlers will `get`)."""
        for coll, keys in wanted.items():
            keys = {k for k in keys if (coll, k) not in self._loaded}
            if not keys:
                continue
            ordered = sorted(keys)
            found: dict[str, dict[str, Any]] = {}
            for i in range(0, len(ordered), PRELOAD_CHUNK):
                chunk = ordered[i : i + PRELOAD_CHUNK]
                cur = self.db[coll].find({"_id": {"$in": chunk}}, session=self.session)
                found.update((d["_id"], d) for d in await cur.to_list())
            for k in keys:
                self._loaded[(coll, k)] = found.get(k)

    async def _load(self, collection: str, key: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.db[collection].find_one(
            {"_id": key}, session=self.session
        )
        return doc


async def flush(uow: BaseUnitOfWork, db: Any, session: Any, at: datetime) -> None:
    """Write every changed aggregate and every emitted event, inside the open transaction.

    A document read and not found is inserted, which is cheaper than an upsert; any other is
    replaced (upsert, for a handler that writes without reading). If another replica inserts
    the same document after this transaction's snapshot, the insert fails with a write conflict
    (112, transient), the batch is retried and then reads the document."""
    per_coll: dict[str, list[InsertOne[Any] | ReplaceOne[Any]]] = defaultdict(list)
    for coll, key, doc in uow.dirty_items():
        if uow.known_absent(coll, key):
            per_coll[coll].append(InsertOne(doc))
        else:
            per_coll[coll].append(ReplaceOne({"_id": key}, doc, upsert=True))
    for coll, ops in per_coll.items():
        await db[coll].bulk_write(ops, ordered=False, session=session)
    if uow.events:
        await db[OUTBOX].insert_one(outbox_doc(uow.events, at), session=session)
