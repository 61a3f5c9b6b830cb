"""What the DLQ admin API does for a caller: audit, then run; or, over the approval threshold,
store a request; and decide requests (`dlq_governed` says which need one)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from distsync_ops import dlq as D
from distsync_ops.admin_db import AdminDb
from distsync_ops.approvals import Refused, view
from distsync_ops.dlq_governed import actor, audited, count_over_threshold
from distsync_ops.dlq_models import DecisionIn, ReplayIn, SelectorIn, capped
from distsync_ops.dlq_tasks import Make, Tasks, archiving, call, launch, replaying
from shared.auth import AuthSettings, Identity

PUBLISH_COUNTS = "publish-counts"  # a count plan (distsync_ops.reconcile.governed)


class Operations:
    def __init__(
        self, settings: D.DlqSettings, auth: AuthSettings, adb: AdminDb, tasks: Tasks
    ) -> None:
        self.settings, self.auth, self.adb, self.tasks = settings, auth, adb, tasks

    async def run(
        self,
        who: Identity,
        name: str,
        action: str,
        service: str,
        sel: D.Selector,
        wait: bool,
        make: Make,
        detail: dict[str, Any] | None = None,
    ) -> Any:
        """Audit first (nothing runs unaudited), then start the operation."""
        entry = await call(
            self.adb.audit.record(
                who,
                f"dlq.{action}",
                service,
                result="started",
                selector=sel.describe(),
                detail={"user": name, **(detail or {})},
            )
        )
        o = D.Outcome(action, D.queue_of(service), sel.describe(), name)
        return await launch(self.tasks, o, wait, audited(self.adb.audit, entry, make))

    async def governed(
        self,
        who: Identity,
        action: str,
        service: str,
        body: SelectorIn,
        sel: D.Selector,
        wait: bool,
        make: Make,
    ) -> Any:
        """Run it, or over the threshold for a stock-moving service, request approval (202)."""
        name = actor(who, body.user)
        matched = await count_over_threshold(self.settings, self.auth, service, sel)
        if matched is None:
            return await self.run(who, name, action, service, sel, wait, make)
        doc = await call(
            self.adb.approvals.request(
                action=action,
                service=service,
                body=body.model_dump(),
                selector=sel.describe(),
                matched=matched,
                threshold=self.auth.approval_threshold,
                who=who,
                requester=name,
                ttl_s=self.auth.approval_ttl_s,
            )
        )
        await call(
            self.adb.audit.record(
                who,
                f"dlq.{action}.requested",
                service,
                result="pending_approval",
                selector=sel.describe(),
                counts={"matched": matched},
                detail={"approval": doc["_id"], "user": name},
            )
        )
        answer = jsonable_encoder({**view(doc), "state": "pending_approval"})
        return JSONResponse(answer, status_code=202)

    async def decide(
        self, who: Identity, approval_id: str, body: DecisionIn | None, approve: bool, wait: bool
    ) -> Any:
        """Approve (and run) or reject another person's request; every try is audited."""
        name = actor(who, body.user if body else None)
        verb = "approve" if approve else "reject"
        try:
            doc = await call(self.adb.approvals.decide(approval_id, who, name, approve))
        except Refused as e:
            await call(
                self.adb.audit.record(
                    who,
                    f"dlq.approval.{verb}",
                    approval_id,
                    result="refused",
                    detail={"reason": e.detail, "user": name},
                )
            )
            raise HTTPException(e.status, detail=e.detail) from e
        detail = {
            "approval": approval_id,
            "requested_by": doc["requested_by"],
            "decided_by": name,
            "note": body.note if body else None,
        }
        await call(
            self.adb.audit.record(
                who,
                f"dlq.approval.{verb}",
                doc["service"],
                result="approved" if approve else "rejected",
                selector=doc["selector"],
                counts={"matched": doc["matched"]},
                detail=detail,
            )
        )
        if not approve:
            return view(doc)
        return await self.carry_out(who, doc, wait, detail)

    async def carry_out(
        self, who: Identity, doc: dict[str, Any], wait: bool, detail: dict[str, Any]
    ) -> Any:
        """The approved operation: the same selector, capped at the approved count."""
        service, action = doc["service"], doc["action"]
        if action == PUBLISH_COUNTS:  # the plan is on the requester's machine: they publish it
            next_step = (
                "distsync reconcile stock --publish-counts --plan FILE "
                f"--approval {doc['_id']} --source NAME"
            )
            return jsonable_encoder({**view(doc), "state": "approved", "next": next_step})
        body = ReplayIn(**doc["body"]) if action == "replay" else SelectorIn(**doc["body"])
        sel = capped(body.selector(), int(doc["matched"]))
        name = f"{doc['requested_by']} (approved by {detail['decided_by']})"
        if isinstance(body, ReplayIn):
            make = replaying(self.settings, service, sel, body.options())
        else:
            make = archiving(self.settings, service, sel, purge=True)
        return await self.run(who, name, action, service, sel, wait, make, detail)
