"""The audit log: who did what to what, with which selector, counts and result, and when.

One MongoDB collection (`audit` in the database the caller names). Entries are written before
the action's result is known and completed after it (`finish`), so an action that crashed
half-way still shows. Export: `entries()` as dicts, `to_jsonl`/`to_csv` for files.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from shared.auth.identity import Identity

COLLECTION = "audit"
CSV_FIELDS = (
    "id",
    "at",
    "finished_at",
    "action",
    "target",
    "subject",
    "client",
    "method",
    "result",
    "selector",
    "counts",
    "detail",
)


class AuditLog:
    def __init__(self, db: Any, collection: str = COLLECTION) -> None:
        self.coll = db[collection]
        self._indexed = False

    async def _indexes(self) -> None:
        if not self._indexed:
            await self.coll.create_index([("at", -1)])
            await self.coll.create_index([("action", 1), ("at", -1)])
            self._indexed = True

    async def record(
        self,
        who: Identity,
        action: str,
        target: str,
        *,
        result: str,
        selector: dict[str, Any] | None = None,
        counts: dict[str, int] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> str:
        """Writes one entry and returns its id; raises when MongoDB cannot take it (the caller
        then does nothing: no unaudited action)."""
        await self._indexes()
        entry_id = uuid.uuid4().hex
        await self.coll.insert_one(
            {
                "_id": entry_id,
                "at": datetime.now(UTC),
                "action": action,
                "target": target,
                "identity": who.as_dict(),
                "result": result,
                "selector": selector or {},
                "counts": counts or {},
                "detail": detail or {},
            }
        )
        return entry_id

    async def finish(
        self, entry_id: str, result: str, counts: dict[str, int] | None = None, **detail: Any
    ) -> None:
        update: dict[str, Any] = {"result": result, "finished_at": datetime.now(UTC)}
        if counts:
            update["counts"] = counts
        for k, v in detail.items():
            update[f"detail.{k}"] = v
        await self.coll.update_one({"_id": entry_id}, {"$set": update})

    async def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        q: dict[str, Any] = {}
        if since or until:
            q["at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        if action:
            q["action"] = {"$regex": "^" + _literal(action)}
        async for d in self.coll.find(q).sort("at", -1).limit(limit):
            yield public(d)


def _literal(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() else c for c in text)


def public(d: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API and the exports show it: `id` for `_id`, ISO 8601 times."""
    out = {"id": d.get("_id")} | {k: v for k, v in d.items() if k != "_id"}
    for k in ("at", "finished_at"):
        t = out.get(k)
        if isinstance(t, datetime):
            out[k] = t.isoformat()
    return out


def to_jsonl(entries: Iterable[dict[str, Any]], out: io.TextIOBase | Any) -> int:
    n = 0
    for e in entries:
        out.write(json.dumps(e, sort_keys=True, default=str) + "\n")
        n += 1
    return n


def to_csv(entries: Iterable[dict[str, Any]], out: io.TextIOBase | Any) -> int:
    """One row per entry; nested fields (selector, counts, detail) as compact JSON."""
    w = csv.writer(out)
    w.writerow(CSV_FIELDS)
    n = 0
    for e in entries:
        ident = e.get("identity") or {}
        row = {
            **e,
            "subject": ident.get("subject"),
            "client": ident.get("client"),
            "method": ident.get("method"),
        }
        w.writerow(
            [
                json.dumps(row.get(f), sort_keys=True, default=str)
                if isinstance(row.get(f), (dict, list))
                else ("" if row.get(f) is None else row.get(f))
                for f in CSV_FIELDS
            ]
        )
        n += 1
    return n
