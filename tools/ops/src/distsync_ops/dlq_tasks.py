"""DLQ operations the admin API runs as tasks, and how their failures become HTTP answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiormq
from fastapi import HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from distsync_ops import dlq as D

Make = Callable[[D.Outcome], Awaitable[D.Outcome]]


class Tasks:
    """Operations running in this process, by id, with their live outcome."""

    def __init__(self) -> None:
        self.running: dict[str, tuple[asyncio.Task[D.Outcome], D.Outcome, datetime]] = {}

    def start(self, o: D.Outcome, make: Make) -> str:
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
        return {
            "task": task_id,
            "state": state_of(task, o),
            "error": str(task.exception())
            if task.done() and not task.cancelled() and task.exception()
            else None,
            "started_at": started,
            "outcome": o.as_dict(),
        }


def state_of(task: asyncio.Task[D.Outcome], o: D.Outcome) -> str:
    if not task.done():
        return "running"
    if task.cancelled() or o.cancelled:
        return "cancelled"
    if task.exception() is not None:
        return "failed"
    return "done" if not o.failed else "partial"


async def call(aw: Awaitable[Any]) -> Any:
    """The HTTP answer for what a dlq operation raised: 404/422 usage, 409 nothing, 503 down."""
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


async def launch(tasks: Tasks, o: D.Outcome, wait: bool, make: Make) -> Any:
    """Start the operation; its task view at once (202), or once done with `wait` (200)."""
    task_id = tasks.start(o, make)
    if not wait:
        return tasks.view(task_id)
    task = tasks.running[task_id][0]
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        assert exc is not None
        await call(_reraise(exc))
    return JSONResponse(jsonable_encoder(tasks.view(task_id)), status_code=200)


async def _reraise(exc: BaseException) -> None:
    raise exc


def replaying(
    settings: D.DlqSettings, service: str, sel: D.Selector, opts: D.ReplayOptions
) -> Make:
    def make(o: D.Outcome) -> Awaitable[D.Outcome]:
        return D.replay(settings, service, sel, opts, user=o.user, outcome=o)

    return make


def archiving(settings: D.DlqSettings, service: str, sel: D.Selector, *, purge: bool) -> Make:
    def make(o: D.Outcome) -> Awaitable[D.Outcome]:
        return D.archive(settings, service, sel, purge=purge, user=o.user, outcome=o)

    return make


def restoring(settings: D.DlqSettings, archive: str, *, force: bool) -> Make:
    def make(o: D.Outcome) -> Awaitable[D.Outcome]:
        return D.restore(settings, archive, force=force, user=o.user, outcome=o)

    return make
