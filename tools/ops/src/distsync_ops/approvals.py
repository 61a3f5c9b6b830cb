"""Pending requests for DLQ operations that need a second person, kept in MongoDB.

A replay or purge of a stock-moving service's DLQ that selects more messages than the threshold
is stored here instead of running. Another identity holding `dlq:approve` approves it (one
atomic update from `pending`, refused for the requester), and the API then runs it with the same
selector, capped at the count that was approved.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from shared.auth.identity import Identity

COLLECTION = "dlq_approvals"


class Refused(Exception):
    """The decision is not allowed (requester approving, already decided, expired)."""

    def __init__(self, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


class Approvals:
    def __init__(self, db: Any) -> None:
        self.coll = db[COLLECTION]

    async def request(
        self,
        *,
        action: str,
        service: str,
        body: dict[str, Any],
        selector: dict[str, Any],
        matched: int,
        threshold: int,
        who: Identity,
        requester: str,
        ttl_s: float,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        doc = {
            "_id": uuid.uuid4().hex[:16],
            "action": action,
            "service": service,
            "body": body,
            "selector": selector,
            "matched": matched,
            "threshold": threshold,
            "status": "pending",
            "requested_by": requester,
            "requester": who.as_dict(),
            "requested_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }
        await self.coll.insert_one(doc)
        return doc

    async def get(self, approval_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.coll.find_one({"_id": approval_id})
        return doc

    async def list(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        q = {"status": status} if status else {}
        return [d async for d in self.coll.find(q).sort("requested_at", -1).limit(limit)]

    async def decide(
        self, approval_id: str, who: Identity, decider: str, approve: bool
    ) -> dict[str, Any]:
        """Pending -> approved/rejected, atomically; Refused for the requester, for a request
        already decided or expired, 404 for none."""
        doc = await self.get(approval_id)
        if doc is None:
            raise Refused(f"no approval request {approval_id}", 404)
        if doc["requested_by"] == decider:
            raise Refused(
                f"{decider} made this request: another person must approve or reject it", 403
            )
        now = datetime.now(UTC)
        if doc["status"] == "pending" and _aware(doc["expires_at"]) <= now:
            await self.coll.update_one(
                {"_id": approval_id, "status": "pending"}, {"$set": {"status": "expired"}}
            )
            raise Refused(f"approval request {approval_id} expired at {doc['expires_at']}")
        decided = await self.coll.find_one_and_update(
            {"_id": approval_id, "status": "pending", "requested_by": {"$ne": decider}},
            {
                "$set": {
                    "status": "approved" if approve else "rejected",
                    "decided_by": decider,
                    "decider": who.as_dict(),
                    "decided_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if decided is None:
            raise Refused(f"approval request {approval_id} is {doc['status']}, not pending")
        result: dict[str, Any] = decided
        return result

    async def ran(self, approval_id: str, task: str, audit_id: str) -> None:
        await self.coll.update_one(
            {"_id": approval_id}, {"$set": {"task": task, "audit_id": audit_id}}
        )


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def view(doc: dict[str, Any]) -> dict[str, Any]:
    out = {"approval": doc["_id"]} | {k: v for k, v in doc.items() if k not in ("_id", "body")}
    out["request"] = doc.get("body", {})
    return out
