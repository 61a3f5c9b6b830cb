"""The `distsync_admin` database: the archive, and the audit log written before anything is done."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from distsync_ops.dlq.errors import DlqError
from distsync_ops.dlq.outcome import Outcome
from distsync_ops.dlq.selector import queue_of
from distsync_ops.dlq.settings import DlqSettings
from shared.logging import get_logger

log = get_logger("distsync_ops.dlq")

ARCHIVE = "dlq_archive"
AUDIT = "dlq_audit"
MONGO_HINT = "MONGODB_URL, database distsync_admin"


class Admin:
    """The `distsync_admin` database: archive and audit log."""

    def __init__(self, settings: DlqSettings) -> None:
        from pymongo import AsyncMongoClient  # as shared.runtime does, without its web stack

        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_url,
            tz_aware=True,
            serverSelectionTimeoutMS=5000,
            connectTimeoutMS=5000,
            uuidRepresentation="standard",
        )
        self._indexed = False
        self.db = self.client[settings.admin_db]

    async def close(self) -> None:
        await self.client.close()

    async def audit_start(self, o: Outcome) -> str:
        audit_id = uuid.uuid4().hex
        try:
            await self.db[AUDIT].insert_one(
                {
                    "_id": audit_id,
                    "action": o.action,
                    "status": "running",
                    "user": o.user,
                    "host": socket.gethostname(),
                    "queue": o.queue,
                    "selector": o.selector,
                    "target": o.target,
                    "archive_id": o.archive_id,
                    "started_at": datetime.now(UTC),
                }
            )
        except Exception as e:
            raise DlqError(f"audit log unreachable, nothing done ({MONGO_HINT}): {e}") from e
        return audit_id

    async def audit_finish(self, audit_id: str, o: Outcome, status: str) -> None:
        d = o.as_dict()
        fields = ("matched", "done", "failed", "skipped_flagged", "scanned", "errors", "file")
        update = {k: d[k] for k in fields} | {"archive_id": o.archive_id, "cancelled": o.cancelled}
        update |= {"status": status, "finished_at": datetime.now(UTC), "elapsed_s": d["elapsed_s"]}
        try:
            await asyncio.shield(self.db[AUDIT].update_one({"_id": audit_id}, {"$set": update}))
        except Exception as e:
            log.error("dlq_audit_write_failed", audit_id=audit_id, error=repr(e)[:300])
        log.info(
            "dlq_operation_finished",
            action=o.action,
            audit_id=audit_id,
            status=status,
            user=o.user,
            queue=o.queue,
            selector=o.selector,
            matched=o.matched,
            done=o.done,
            failed=o.failed,
        )

    async def audit_entries(
        self, limit: int = 20, queue: str | None = None
    ) -> list[dict[str, Any]]:
        q = {"queue": queue} if queue else {}
        cur = self.db[AUDIT].find(q).sort("started_at", -1).limit(limit)
        return [d async for d in cur]

    async def insert_archive(self, docs: list[dict[str, Any]]) -> None:
        await self._indexes()
        await self.db[ARCHIVE].insert_many(docs, ordered=True)

    async def _indexes(self) -> None:
        if not self._indexed:
            await self.db[ARCHIVE].create_index([("archive_id", 1), ("seq", 1)])
            await self.db[AUDIT].create_index([("queue", 1), ("started_at", -1)])
            self._indexed = True

    async def archive_docs(self, archive_id: str) -> list[dict[str, Any]]:
        cur = self.db[ARCHIVE].find({"archive_id": archive_id}).sort("seq", 1)
        return [d async for d in cur]

    async def mark_restored(self, ids: list[str]) -> None:
        now = datetime.now(UTC)
        await self.db[ARCHIVE].update_many({"_id": {"$in": ids}}, {"$set": {"restored_at": now}})

    async def restored_before(self, archive_id: str) -> bool:
        q = {"action": "restore", "archive_id": archive_id, "status": "done"}
        return await self.db[AUDIT].count_documents(q, limit=1) > 0


@contextlib.asynccontextmanager
async def audited(admin: Admin, o: Outcome) -> AsyncIterator[None]:
    """Record the operation before it starts and how it ended (also when cancelled)."""
    audit_id = await admin.audit_start(o)
    status = "failed"
    try:
        yield
        status = "done" if not o.failed else "partial"
    except asyncio.CancelledError:
        o.cancelled, status = True, "cancelled"
        raise
    finally:
        o.elapsed_s = time.monotonic() - o.started
        await admin.audit_finish(audit_id, o, status)


async def audit_log(
    settings: DlqSettings, limit: int = 20, target: str | None = None
) -> list[dict[str, Any]]:
    adm = Admin(settings)
    try:
        return await adm.audit_entries(limit, queue_of(target) if target else None)
    finally:
        await adm.close()
