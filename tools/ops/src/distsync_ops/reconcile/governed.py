"""Count plans approved by a second, authenticated person through the admin API.

Writing a plan (`--plan FILE --requested-by A`) also files an approval request in the admin
database, the same store the DLQ admin API keeps its two-person replays in (docs/security.md):
action `publish-counts`, the plan's SHA-256 as its selector, the number of counts as `matched`.
Someone holding `dlq:approve` approves it with `POST /v1/dlq/approvals/{id}/approve` (the API
refuses the requester, and only records the decision: it never sees the plan file).
`--publish-counts --plan FILE --approval ID` then publishes the plan only if that request is
approved, names this very plan and was not used before; the approver's identity goes into every
event (`approved_by`) and the publication into the audit log.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from distsync_ops.approvals import Approvals
from distsync_ops.reconcile.rows import InputError
from shared.auth.audit import AuditLog
from shared.auth.identity import Identity

ACTION = "publish-counts"
TTL_S = 86400.0
ADMIN_DB_ENV = "DISTSYNC_ADMIN_DB"  # the DLQ admin API's database (DlqSettings.admin_db)


def admin_db_name() -> str:
    return os.environ.get(ADMIN_DB_ENV) or "distsync_admin"


def requester(name: str) -> Identity:
    """The command line's requester: a name given by the operator (the approval that follows is
    the authenticated step)."""
    return Identity(subject=name, client="distsync-reconcile", method="cli")


async def request(db: Any, plan: dict[str, Any], requested_by: str, snapshot: str) -> str:
    """File the plan for approval; returns the approval request's id."""
    who = requester(requested_by)
    doc = await Approvals(db).request(
        action=ACTION,
        service="availability",
        body={"plan": plan["path"], "snapshot": snapshot, "counts": plan["counts"]},
        selector={"plan_sha256": plan["sha256"]},
        matched=int(plan["counts"]),
        threshold=0,
        who=who,
        requester=who.name,
        ttl_s=TTL_S,
    )
    await AuditLog(db).record(
        who,
        "reconcile.publish_counts.request",
        "availability",
        result="pending_approval",
        selector={"plan_sha256": plan["sha256"]},
        counts={"matched": int(plan["counts"])},
        detail={"approval": doc["_id"], "plan": plan["path"], "snapshot": snapshot},
    )
    return str(doc["_id"])


async def approver_of(db: Any, approval_id: str, digest: str) -> tuple[str, dict[str, Any]]:
    """Who approved this plan's request; InputError unless it is approved, for this plan, and
    not used yet."""
    doc = await Approvals(db).get(approval_id)
    if doc is None or doc.get("action") != ACTION:
        raise InputError(f"no count-plan approval request {approval_id}")
    if doc.get("selector", {}).get("plan_sha256") != digest:
        raise InputError(f"approval {approval_id} is for another plan, not this one ({digest})")
    if doc.get("status") != "approved":
        raise InputError(
            f"approval {approval_id} is {doc.get('status')}: another person must approve it "
            "first (POST /v1/dlq/approvals/{id}/approve on the admin API)"
        )
    if doc.get("task"):
        raise InputError(f"approval {approval_id} was used already ({doc['task']})")
    return str(doc.get("decided_by") or ""), doc


async def published(db: Any, approval_id: str, doc: dict[str, Any], result: dict[str, Any]) -> None:
    """Mark the request used and put the publication in the audit log."""
    at = datetime.now(UTC).isoformat()
    await Approvals(db).ran(approval_id, f"published {result['published']} at {at}", "")
    await AuditLog(db).record(
        requester(str(doc.get("requester", {}).get("subject") or "?")),
        "reconcile.publish_counts",
        "availability",
        result="done" if result["ok"] else "failed",
        selector={"plan_sha256": result["sha256"]},
        counts={"published": result["published"], "planned": result["planned"]},
        detail={"approval": approval_id, "approved_by": result["approved_by"]},
    )
