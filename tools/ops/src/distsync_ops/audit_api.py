"""`GET /v1/audit` (scope `audit:read`): the audit log, newest first, as JSON or JSON lines."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from distsync_ops.admin_db import AdminDb
from distsync_ops.dlq_tasks import call
from shared.auth.audit import AuditLog, to_jsonl
from shared.http import ERROR_RESPONSES, Time


async def collect(
    audit: AuditLog,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    return [e async for e in audit.entries(since=since, until=until, action=action, limit=limit)]


def audit_router(adb: AdminDb) -> APIRouter:
    r = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)

    @r.get("")
    async def audit_log(
        request: Request,
        since: Time | None = Query(None, description="entries at or after this time"),
        until: Time | None = Query(None, description="entries before this time"),
        action: str | None = Query(None, max_length=100, description="action prefix: `dlq.`"),
        limit: int = Query(1000, gt=0, le=100_000),
        format: str = Query("json", pattern="^(json|jsonl)$"),
    ) -> Any:
        """Who did what to what, with selector, counts and result. Reading it is audited too."""
        entries = await call(collect(adb.audit, since, until, action, limit))
        sel = {k: str(v) for k, v in (("since", since), ("until", until), ("action", action)) if v}
        await call(
            adb.audit.record(
                request.state.identity,
                "audit.export",
                "audit",
                result="done",
                selector=sel,
                counts={"entries": len(entries)},
            )
        )
        if format == "jsonl":
            buf = io.StringIO()
            to_jsonl(entries, buf)
            return Response(buf.getvalue(), media_type="application/x-ndjson")
        return entries

    return r
