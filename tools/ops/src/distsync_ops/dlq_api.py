"""The dlq operations over HTTP: a small admin API, run as its own process (`distsync dlq serve`).

Replay, archive, purge and restore run as tasks: the POST answers 202 with the task (or, with
`?wait=true`, the outcome once done); `GET /v1/dlq/tasks/{id}` shows progress and
`DELETE /v1/dlq/tasks/{id}` cancels without loss, exactly like Ctrl-C on the command line.

It refuses to start without `DISTSYNC_DLQ_API_TOKEN` (at least 16 characters; every `/v1`
request then needs `Authorization: Bearer <token>`), unless told it is a local laptop run
(`--insecure-local`, `DISTSYNC_DLQ_API_INSECURE_LOCAL=true`): then it binds to loopback only.
Every request's `Host` must be one of `DISTSYNC_DLQ_API_ALLOWED_HOSTS` (default the loopback
names), so a web page that makes its own name resolve to 127.0.0.1 cannot reach it.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiormq
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from starlette.middleware.base import RequestResponseEndpoint

from distsync_ops import dlq as D
from distsync_ops.dlq.access import InsecureStart, check_start, host_allowed
from shared.http import create_app

__all__ = ["InsecureStart", "check_start", "create_dlq_app", "host_allowed", "serve"]


class SelectorIn(BaseModel):
    ids: list[str] = []
    types: list[str] = []
    groups: list[str] = []
    since: str | None = Field(None, description="ISO 8601 time or an age like 2h")
    until: str | None = None
    limit: int | None = Field(None, gt=0)
    all: bool = Field(False, description="required to act on every message (no selector)")
    user: str | None = Field(None, description="who asks, for the audit log")

    def selector(self) -> D.Selector:
        try:
            since = D.parse_time(self.since) if self.since else None
            until = D.parse_time(self.until) if self.until else None
        except ValueError as e:
            raise HTTPException(422, detail=str(e)) from e
        return D.Selector(
            tuple(self.ids), tuple(self.types), tuple(self.groups), since, until, self.limit
        )


class ReplayIn(SelectorIn):
    to: str | None = Field(None, description="publish to this exchange instead")
    direct: bool = Field(False, description="straight to the service's own queue")
    rate: float | None = Field(None, gt=0, description="messages per second")
    dry_run: bool = False
    force: bool = Field(False, description="also replay flagged messages")


class RestoreIn(BaseModel):
    archive: str = Field(description="archive id from archive/purge")
    force: bool = False
    user: str | None = None


class Tasks:
    """Operations running in this process, by id, with their live outcome."""

    def __init__(self) -> None:
        self.running: dict[str, tuple[asyncio.Task[D.Outcome], D.Outcome, datetime]] = {}

    def start(self, o: D.Outcome, make: Callable[[D.Outcome], Awaitable[D.Outcome]]) -> str:
        task_id = uuid.uuid4().hex[:12]
        finished = [t for t, (task, _, _) in self.running.items() if task.done()]
        for t in finished[: max(0, len(finished) - 100)]:  # keep the last 100 finished
            del self.running[t]

        async def body() -> D.Outcome:
            return await make(o)

        self.running[task_id] = (asyncio.create_task(body()), o, datetime.now().astimezone())
        return task_id

    def view(self, task_id: str) -> dict[str, Any]:
        if task_id not in self.running:
            raise HTTPException(404, detail=f"no task {task_id}")
        task, o, started = self.running[task_id]
        state = "running"
        error = None
        if task.done():
            if task.cancelled() or o.cancelled:
                state = "cancelled"
            elif task.exception() is not None:
                state, error = "failed", str(task.exception())
            else:
                state = "done" if not o.failed else "partial"
        return {
            "task": task_id,
            "state": state,
            "error": error,
            "started_at": started,
            "outcome": o.as_dict(),
        }


def build_router(settings: D.DlqSettings) -> APIRouter:
    tasks = Tasks()

    def auth(authorization: str | None = Header(None)) -> None:
        token = settings.dlq_api_token
        if token is None and settings.dlq_api_insecure_local:
            return  # a laptop run, on loopback only (checked before it started)
        expected = f"Bearer {token}".encode() if token else secrets.token_bytes(32)
        if not secrets.compare_digest((authorization or "").encode(), expected):
            raise HTTPException(
                401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    r = APIRouter(prefix="/v1/dlq", tags=["dlq"], dependencies=[Depends(auth)])

    @r.get("")
    async def list_all(service: str | None = None) -> list[dict[str, Any]]:
        """Depth, oldest and newest failure, failure groups: per service DLQ and `unrouted`."""
        targets = [service] if service else D.known_targets()
        res = await _call(D.list_queues(settings, targets))
        return [q.as_dict() for q in res]

    @r.get("/tasks")
    async def list_tasks() -> list[dict[str, Any]]:
        return [tasks.view(t) for t in tasks.running]

    @r.get("/tasks/{task_id}")
    async def get_task(task_id: str) -> dict[str, Any]:
        return tasks.view(task_id)

    @r.delete("/tasks/{task_id}")
    async def cancel_task(task_id: str) -> dict[str, Any]:
        """Stop it: what was published is acked, the rest stays in the DLQ (never lost)."""
        view = tasks.view(task_id)
        task = tasks.running[task_id][0]
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
            view = tasks.view(task_id)
        return view

    @r.get("/audit")
    async def audit(service: str | None = None, limit: int = Query(20, gt=0)) -> Any:
        return await _call(D.audit_log(settings, limit, service))

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
        msgs = await _call(D.show(settings, service, limit=limit, selector=sel))
        return [m.summary(settings.dlq_flag_replays) for m in msgs]

    @r.get("/{service}/export")
    async def export(
        service: str,
        type: list[str] = Query([]),
        group: list[str] = Query([]),
        id: list[str] = Query([]),
    ) -> Response:
        """JSONL of the selected messages (the archive format), left in place."""
        buf = io.StringIO()
        sel = D.Selector(ids=tuple(id), types=tuple(type), groups=tuple(group))
        await _call(D.export(settings, service, sel, buf))
        return Response(buf.getvalue(), media_type="application/x-ndjson")

    @r.post("/{service}/replay", status_code=202)
    async def replay(service: str, body: ReplayIn, wait: bool = False) -> Any:
        sel = _selector(body, body.dry_run)
        opts = D.ReplayOptions(body.to, body.direct, body.rate, body.dry_run, body.force)
        o = D.Outcome("replay", D.queue_of(service), sel.describe(), D.who(body.user or "api"))
        return await _launch(
            tasks,
            o,
            wait,
            lambda o: D.replay(settings, service, sel, opts, user=o.user, outcome=o),
        )

    async def _archive(service: str, body: SelectorIn, wait: bool, purge: bool) -> Any:
        sel = _selector(body, not purge)
        o = D.Outcome("", D.queue_of(service), sel.describe(), D.who(body.user or "api"))
        return await _launch(
            tasks,
            o,
            wait,
            lambda o: D.archive(settings, service, sel, purge=purge, user=o.user, outcome=o),
        )

    @r.post("/{service}/archive", status_code=202)
    async def archive(service: str, body: SelectorIn, wait: bool = False) -> Any:
        """Copy the selected messages to the archive (MongoDB); they stay in the DLQ."""
        return await _archive(service, body, wait, purge=False)

    @r.post("/{service}/purge", status_code=202)
    async def purge(service: str, body: SelectorIn, wait: bool = False) -> Any:
        """Archive the selected messages, then remove them from the DLQ."""
        return await _archive(service, body, wait, purge=True)

    @r.post("/restore", status_code=202)
    async def restore(body: RestoreIn, wait: bool = False) -> Any:
        o = D.Outcome("restore", "", {"archive": body.archive}, D.who(body.user or "api"))
        return await _launch(
            tasks,
            o,
            wait,
            lambda o: D.restore(settings, body.archive, force=body.force, user=o.user, outcome=o),
        )

    return r


def _selector(body: SelectorIn, harmless: bool) -> D.Selector:
    sel = body.selector()
    if sel.is_all and sel.limit is None and not body.all and not harmless:
        raise HTTPException(422, detail='no selector: send "all": true to act on every message')
    return sel


async def _call(aw: Awaitable[Any]) -> Any:
    try:
        return await aw
    except D.UsageError as e:
        raise HTTPException(404 if "no queue" in str(e) else 422, detail=str(e)) from e
    except D.NothingToDo as e:
        raise HTTPException(409, detail=str(e)) from e
    except D.DlqError as e:
        raise HTTPException(503, detail=str(e)) from e
    except (aiormq.exceptions.AMQPError, PyMongoError, OSError) as e:
        raise HTTPException(503, detail=f"broker or database unreachable: {e}") from e


async def _launch(
    tasks: Tasks, o: D.Outcome, wait: bool, make: Callable[[D.Outcome], Awaitable[D.Outcome]]
) -> Any:
    task_id = tasks.start(o, make)
    if not wait:
        return tasks.view(task_id)
    task = tasks.running[task_id][0]
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        assert exc is not None
        await _call(_reraise(exc))
    return JSONResponse(jsonable_encoder(tasks.view(task_id)), status_code=200)


async def _reraise(exc: BaseException) -> None:
    raise exc


def create_dlq_app(settings: D.DlqSettings | None = None) -> FastAPI:
    """The admin API; raises InsecureStart for a configuration `check_start` refuses."""
    settings = settings or D.DlqSettings()
    check_start(settings)

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
    app.include_router(build_router(settings))
    allowed = list(settings.dlq_api_allowed_hosts)

    @app.middleware("http")
    async def trusted_host(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not host_allowed(request.headers.get("host", ""), allowed):
            return JSONResponse({"detail": "Host not allowed"}, status_code=400)
        return await call_next(request)

    return app


def serve(host: str, port: int, settings: D.DlqSettings | None = None) -> None:
    import uvicorn

    settings = settings or D.DlqSettings()
    check_start(settings, host)
    app = create_dlq_app(settings)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
