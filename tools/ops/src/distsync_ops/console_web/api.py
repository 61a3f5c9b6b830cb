"""`/v1/console/...`: the JSON the console's pages read that the DLQ API does not have as such.

Mounted behind the same guard as `/v1/dlq` (scope `dlq:read`): the overview and failure groups
from the background snapshots (`summary`), one message and the operations that named it, who
the caller is (shown in the page header), and the correlation trace as JSON. Actions go to the
DLQ API itself, which checks each one's scope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from distsync_ops import dlq as D
from distsync_ops import trace
from distsync_ops.console_web.summary import SummaryCache
from distsync_ops.dlq.admin import AUDIT
from distsync_ops.dlq_tasks import call
from shared.auth import Identity
from shared.runtime import mongo_client

WAIT = Query(0.2, ge=0, le=30, description="wait this long for a snapshot that is due")


def console_api(settings: D.DlqSettings, cache: SummaryCache | None = None) -> APIRouter:
    cache = cache or SummaryCache(settings)
    r = APIRouter(prefix="/v1/console", tags=["console"])
    admin: list[D.Admin] = []  # one client for the app's life, made in the loop that serves

    def admin_db() -> Any:
        if not admin:
            admin.append(D.Admin(settings))
        return admin[0].db

    async def close() -> None:
        """At the app's shutdown: the snapshot walks, their broker connection, the admin client."""
        await cache.close()
        while admin:
            await admin.pop().close()

    r.add_event_handler("shutdown", close)

    @r.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        """Who the credentials name, and their scopes: the sign-in page checks them with this."""
        who: Identity = request.state.identity
        return {**who.as_dict(), "open": who.method == "open"}

    @r.get("/overview")
    async def overview(refresh: bool = False, wait: float = WAIT) -> dict[str, Any]:
        """Every service DLQ and `unrouted`: live depth, and the last snapshot's summary."""
        targets = D.known_targets()
        queues = await call(cache.overview(targets, force=refresh, wait_s=wait))
        return {"queues": queues, "flag_replays": settings.dlq_flag_replays}

    @r.get("/trace/{correlationid}")
    async def correlation_trace(correlationid: str) -> dict[str, Any]:
        """The `distsync trace` view: each service's inbox and outbox for one correlation id."""
        if not correlationid or len(correlationid) > 200:
            raise HTTPException(422, detail="a correlation id of 1 to 200 characters")
        try:
            dbs = trace.database_names()
        except ValueError as e:
            raise HTTPException(503, detail=str(e)) from e
        client = mongo_client(settings.mongodb_url)
        try:
            found = await trace.collect(client, dbs, correlationid)
        finally:
            await client.close()
        return found.to_dict()

    @r.get("/{service}/groups")
    async def groups(service: str, refresh: bool = False, wait: float = WAIT) -> Any:
        """One queue's snapshot with its failure groups (`state: scanning` until the first)."""
        snap = await call(cache.snapshot(service, force=refresh, wait_s=wait))
        if snap is None:
            return {"target": service, "state": "scanning", "groups": []}
        return snap

    @r.get("/{service}/groups/{group}")
    async def group(service: str, group: str) -> dict[str, Any]:
        """A failure group and (up to 200 of) its messages, from the last snapshot."""
        found = cache.group(service, group)
        if found is None:
            raise HTTPException(404, detail=f"no failure group {group} in {service} (yet)")
        return found

    @r.get("/{service}/messages/{event_id}")
    async def message(service: str, event_id: str) -> dict[str, Any]:
        """One message: from the snapshot, or else read from the queue (a whole walk)."""
        found = cache.message(service, event_id)
        if found is not None:
            return {**found, "source": "snapshot"}
        sel = D.Selector(ids=(event_id,))
        msgs = await call(D.show(settings, service, limit=1, selector=sel))
        if not msgs:
            raise HTTPException(404, detail=f"no message {event_id} in {D.queue_of(service)}")
        return {**msgs[0].summary(settings.dlq_flag_replays), "source": "queue"}

    @r.get("/{service}/messages/{event_id}/operations")
    async def operations(
        service: str, event_id: str, group: str | None = None, limit: int = Query(50, gt=0, le=500)
    ) -> list[dict[str, Any]]:
        """The DLQ operations (the dlq audit log) whose selector named this message or `group`."""
        named: list[dict[str, Any]] = [{"selector.ids": event_id}]
        if group:
            named.append({"selector.groups": group})
        q = {"queue": D.queue_of(service), "$or": named}
        cur = admin_db()[AUDIT].find(q).sort("started_at", -1).limit(limit)
        return list(await call(cur.to_list()))

    return r
