"""Which DLQ operations need a second person, and running them with an audit entry."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from distsync_ops import dlq as D
from distsync_ops.dlq_tasks import Make, call
from shared.auth.audit import AuditLog
from shared.auth.identity import Identity
from shared.auth.settings import AuthSettings
from shared.logging import get_logger

log = get_logger("distsync_ops.dlq_api")


def actor(who: Identity, claimed: str | None) -> str:
    """How the audit log and the replay headers name the caller. Open and shared-token callers
    are anonymous, so the name they give is taken (prefixed); others are named by credentials."""
    if who.method in ("open", "token") and claimed:
        return f"{who.method}:{claimed}"
    return who.name


async def count_over_threshold(
    settings: D.DlqSettings, auth: AuthSettings, service: str, sel: D.Selector
) -> int | None:
    """The number of messages `sel` matches when it is more than a second person must approve
    for this service; None when one operator suffices."""
    if service not in auth.approval_services:
        return None
    if sel.limit is not None and sel.limit <= auth.approval_threshold:
        return None
    counted = await call(
        D.replay(settings, service, sel, D.ReplayOptions(dry_run=True, force=True), user="count")
    )
    matched: int = counted.matched
    return matched if matched > auth.approval_threshold else None


def counts(o: D.Outcome) -> dict[str, int]:
    return {"matched": o.matched, "done": o.done, "failed": o.failed, "scanned": o.scanned}


def audited(audit: AuditLog, entry_id: str, make: Make) -> Make:
    """`make`, completing its audit entry with the outcome once it ends, however it ends."""

    async def run(o: D.Outcome) -> D.Outcome:
        result = "failed"
        error: str | None = None
        try:
            out = await make(o)
            result = "done" if not o.failed else "partial"
            return out
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:500]
            raise
        finally:
            extra: dict[str, Any] = {"archive_id": o.archive_id} if o.archive_id else {}
            if error:
                extra["error"] = error
            try:
                await asyncio.shield(audit.finish(entry_id, result, counts(o), **extra))
            except Exception as e:
                with contextlib.suppress(Exception):
                    log.error("audit_finish_failed", entry=entry_id, error=repr(e)[:300])

    return run
