"""The dlq operations over HTTP: a small admin API, run as its own process (`distsync dlq serve`).

Replay, archive, purge and restore run as tasks: the POST answers 202 with the task (or, with
`?wait=true`, the outcome once done); `GET /v1/dlq/tasks/{id}` shows progress and
`DELETE /v1/dlq/tasks/{id}` cancels without loss, exactly like Ctrl-C on the command line.

Who may call it is `shared.auth` (`DISTSYNC_AUTH_MODE`; scopes `dlq:read`, `dlq:replay`,
`dlq:purge`, `dlq:approve`, `audit:read`), or the older single token `DISTSYNC_DLQ_API_TOKEN`
(`dlq.access`). Without either it refuses to start unless told it is a local laptop run
(`--insecure-local`, or `DISTSYNC_AUTH_MODE=open`): then it binds to loopback only. Every
request's `Host` must be one of `DISTSYNC_DLQ_API_ALLOWED_HOSTS` (default the loopback names),
so a web page that makes its own name resolve to 127.0.0.1 cannot reach it.

A replay or purge of a stock-moving service's DLQ (`DISTSYNC_AUTH_APPROVAL_SERVICES`) that
selects more than `DISTSYNC_AUTH_APPROVAL_THRESHOLD` messages does not run: it becomes an
approval request (202, `state: pending_approval`) that another person with `dlq:approve`
approves (`POST /v1/dlq/approvals/{id}/approve`), which then runs it. Every operation, request
and decision goes to the audit log (`GET /v1/audit`, `distsync audit export`).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import RequestResponseEndpoint

from distsync_ops import dlq as D
from distsync_ops.admin_db import AdminDb
from distsync_ops.approvals import view
from distsync_ops.audit_api import audit_router
from distsync_ops.console_web import console_api, console_pages
from distsync_ops.dlq.access import InsecureStart, check_start, guard_for, host_allowed
from distsync_ops.dlq_governed import actor
from distsync_ops.dlq_models import DecisionIn, ReplayIn, RestoreIn, SelectorIn
from distsync_ops.dlq_operations import Operations
from distsync_ops.dlq_tasks import Tasks, archiving, call, replaying, restoring
from shared.auth import AuthSettings, Identity, declare_schemes, requires, secure_router
from shared.auth.scopes import DLQ_APPROVE, DLQ_PURGE, DLQ_READ, DLQ_REPLAY
from shared.http import create_app

__all__ = ["InsecureStart", "check_start", "create_dlq_app", "host_allowed", "serve"]


def caller(request: Request) -> Identity:
    who: Identity = request.state.identity
    return who


def build_router(settings: D.DlqSettings, auth: AuthSettings, adb: AdminDb) -> APIRouter:
    tasks = Tasks()
    ops = Operations(settings, auth, adb, tasks)
    r = APIRouter(prefix="/v1/dlq", tags=["dlq"])

    @r.get("")
    async def list_all(service: str | None = None) -> list[dict[str, Any]]:
        """Depth, oldest and newest failure, failure groups: per service DLQ and `unrouted`."""
        targets = [service] if service else D.known_targets()
        res = await call(D.list_queues(settings, targets))
        return [q.as_dict() for q in res]

    @r.get("/tasks")
    async def list_tasks() -> list[dict[str, Any]]:
        return [tasks.view(t) for t in tasks.running]

    @r.get("/tasks/{task_id}")
    async def get_task(task_id: str) -> dict[str, Any]:
        return tasks.view(task_id)

    @r.delete("/tasks/{task_id}")
    @requires(DLQ_REPLAY)
    async def cancel_task(task_id: str) -> dict[str, Any]:
        """Stop it: what was published is acked, the rest stays in the DLQ (never lost)."""
        view_ = tasks.view(task_id)
        task = tasks.running[task_id][0]
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
            view_ = tasks.view(task_id)
        return view_

    @r.get("/audit")
    async def audit(service: str | None = None, limit: int = Query(20, gt=0)) -> Any:
        """The dlq operations' own log (what each did); `GET /v1/audit` has every call."""
        return await call(D.audit_log(settings, limit, service))

    @r.get("/approvals")
    async def list_approvals(
        status: str | None = None, limit: int = Query(50, gt=0, le=1000)
    ) -> list[dict[str, Any]]:
        """Requests for operations that need a second person, newest first."""
        return [view(d) for d in await call(adb.approvals.list(status, limit))]

    @r.get("/approvals/{approval_id}")
    async def get_approval(approval_id: str) -> dict[str, Any]:
        doc = await call(adb.approvals.get(approval_id))
        if doc is None:
            raise HTTPException(404, detail=f"no approval request {approval_id}")
        return view(doc)

    @r.post("/approvals/{approval_id}/approve", status_code=202)
    @requires(DLQ_APPROVE)
    async def approve(
        approval_id: str, request: Request, body: DecisionIn | None = None, wait: bool = False
    ) -> Any:
        """Approve another person's request, and run it (the task, as replay/purge answer)."""
        return await ops.decide(caller(request), approval_id, body, True, wait)

    @r.post("/approvals/{approval_id}/reject")
    @requires(DLQ_APPROVE)
    async def reject(approval_id: str, request: Request, body: DecisionIn | None = None) -> Any:
        return await ops.decide(caller(request), approval_id, body, False, False)

    @r.get("/{service}/messages")
    async def show(
        service: str,
        limit: int = Query(20, gt=0),
        type: list[str] = Query([]),
        group: list[str] = Query([]),
        id: list[str] = Query([]),
    ) -> list[dict[str, Any]]:
        """Messages with their failure headers and CloudEvent, left in place and in order."""
        sel = D.Selector(ids=tuple(id), types=tuple(type), groups=tuple(group))
        msgs = await call(D.show(settings, service, limit=limit, selector=sel))
        return [m.summary(settings.dlq_flag_replays) for m in msgs]

    @r.get("/{service}/export")
    async def export(
        service: str,
        request: Request,
        type: list[str] = Query([]),
        group: list[str] = Query([]),
        id: list[str] = Query([]),
    ) -> Response:
        """JSONL of the selected messages (the archive format), left in place. Audited."""
        buf = io.StringIO()
        sel = D.Selector(ids=tuple(id), types=tuple(type), groups=tuple(group))
        who = caller(request)
        entry = await call(
            adb.audit.record(who, "dlq.export", service, result="started", selector=sel.describe())
        )
        await call(D.export(settings, service, sel, buf))
        lines = buf.getvalue().count("\n")
        await call(adb.audit.finish(entry, "done", {"exported": lines}))
        return Response(buf.getvalue(), media_type="application/x-ndjson")

    @r.post("/{service}/replay", status_code=202)
    @requires(DLQ_REPLAY)
    async def replay(service: str, body: ReplayIn, request: Request, wait: bool = False) -> Any:
        """Replay; over the approval threshold for a stock-moving service, a request instead."""
        sel = body.checked(body.dry_run)
        make = replaying(settings, service, sel, body.options())
        if body.dry_run:
            who = caller(request)
            return await ops.run(who, actor(who, body.user), "replay", service, sel, wait, make)
        return await ops.governed(caller(request), "replay", service, body, sel, wait, make)

    @r.post("/{service}/archive", status_code=202)
    @requires(DLQ_PURGE)
    async def archive(service: str, body: SelectorIn, request: Request, wait: bool = False) -> Any:
        """Copy the selected messages to the archive (MongoDB); they stay in the DLQ."""
        sel = body.checked(True)
        make = archiving(settings, service, sel, purge=False)
        who = caller(request)
        return await ops.run(who, actor(who, body.user), "archive", service, sel, wait, make)

    @r.post("/{service}/purge", status_code=202)
    @requires(DLQ_PURGE)
    async def purge(service: str, body: SelectorIn, request: Request, wait: bool = False) -> Any:
        """Archive the selected messages, then remove them from the DLQ. Governed as replay."""
        sel = body.checked(False)
        make = archiving(settings, service, sel, purge=True)
        return await ops.governed(caller(request), "purge", service, body, sel, wait, make)

    @r.post("/restore", status_code=202)
    @requires(DLQ_REPLAY)
    async def restore(body: RestoreIn, request: Request, wait: bool = False) -> Any:
        sel = D.Selector()
        make = restoring(settings, body.archive, force=body.force)
        who = caller(request)
        name = actor(who, body.user)
        detail = {"archive": body.archive}
        return await ops.run(who, name, "restore", "", sel, wait, make, detail)

    return r


def create_dlq_app(
    settings: D.DlqSettings | None = None, auth: AuthSettings | None = None
) -> FastAPI:
    """The admin API; raises InsecureStart for a configuration `check_start` refuses."""
    settings = settings or D.DlqSettings()
    auth = auth or AuthSettings()
    check_start(settings, auth=auth)
    guard = guard_for(settings, auth)
    guard.check()  # logs loudly when open
    adb = AdminDb(settings)

    async def ready() -> dict[str, str]:
        checks = {}
        try:
            async with D.Broker(settings.amqp_url):
                checks["broker"] = "ok"
        except Exception as e:
            checks["broker"] = f"unreachable: {type(e).__name__}"
        admin = D.Admin(settings)
        try:
            await asyncio.wait_for(admin.db.command("ping"), timeout=2)
            checks["database"] = "ok"
        except Exception as e:
            checks["database"] = f"unreachable: {type(e).__name__}"
        finally:
            await admin.close()
        return checks

    app = create_app("dlq-admin", ready, "Dead-letter operations (same as `distsync dlq`).")
    app.include_router(secure_router(build_router(settings, auth, adb), guard, DLQ_READ))
    app.include_router(secure_router(audit_router(adb), guard, "audit:read"))
    # the web console (`/console/`): pages are data-free shells; what they show comes from
    # `/v1/dlq`, `/v1/audit` and `/v1/console`, with the browser's own credentials
    app.include_router(secure_router(console_api(settings), guard, DLQ_READ))
    app.include_router(console_pages())
    declare_schemes(app)
    allowed = list(settings.dlq_api_allowed_hosts)

    @app.middleware("http")
    async def trusted_host(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not host_allowed(request.headers.get("host", ""), allowed):
            return JSONResponse({"detail": "Host not allowed"}, status_code=400)
        return await call_next(request)

    return app


def serve(
    host: str, port: int, settings: D.DlqSettings | None = None, auth: AuthSettings | None = None
) -> None:
    import uvicorn

    settings = settings or D.DlqSettings()
    auth = auth or AuthSettings()
    check_start(settings, host, auth)
    app = create_dlq_app(settings, auth)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
