"""The ingress's HTTP API: CloudEvents in (structured, binary, batched), flat files in, reports."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from ingress import files as flat
from ingress import metrics, store
from ingress.admission import Admitted, Gate, Refused
from ingress.callers import allowed_systems
from ingress.catalogue import Catalogue
from ingress.domain.binary import BATCH, BinaryModeError, event_object, is_binary, media_type
from ingress.domain.flatfiles import KINDS, fmt_of
from ingress.domain.systems import PUBLISH_SCOPE, READ_SCOPE, system_of
from ingress.edi_api import build_edi_router
from ingress.intake import ACCEPTED, Outcome, take
from ingress.openapi import EVENTS_DOC, FILES_DOC
from ingress.settings import settings_of
from shared.auth import requires
from shared.cloudevent import format_time
from shared.envelope import EnvelopeError
from shared.http import ERROR_RESPONSES, body_limit, problem, read_body
from shared.service import ApiContext

ORDER_CREATED = "order.created"


def _refusal(index: int, r: Refused) -> dict[str, Any]:
    return {
        "index": index,
        "id": r.id,
        "type": r.type,
        "status": r.status,
        "kind": r.kind,
        "reason": r.reason,
    }


def build_router(ctx: ApiContext) -> APIRouter:
    settings = settings_of(ctx.settings)
    gate = Gate(Catalogue.installed(), settings.event_time_window())
    limit = settings.ingress_max_body_bytes
    router = APIRouter(tags=["ingress"], responses=ERROR_RESPONSES)

    def status_url(ev_type: str, data: Any) -> str | None:
        if ev_type != ORDER_CREATED or not isinstance(data, dict) or "order_id" not in data:
            return None
        base = settings.ingress_order_status_url.rstrip("/")
        return f"{base}/v1/orders/{quote(str(data['order_id']), safe='')}"

    def answer(outcome: Outcome, ev: Admitted) -> dict[str, Any]:
        out: dict[str, Any] = {"id": outcome.id, "type": outcome.type, "status": outcome.status}
        if outcome.reason:
            out["reason"] = outcome.reason
        url = status_url(ev.event.type, ev.event.data)
        if url is not None and outcome.status in (ACCEPTED, store.DUPLICATE):
            out["links"] = {"status": url}
        return out

    @router.post("/v1/events", status_code=202, **EVENTS_DOC)
    @body_limit(limit)
    @requires(PUBLISH_SCOPE)
    async def post_events(request: Request) -> JSONResponse:
        """CloudEvents over HTTP: structured, binary or batched mode. Every event is checked
        before any is published; all are published with broker confirms, or none."""
        allowed = allowed_systems(request)
        body = await read_body(request, limit)
        ctype = media_type(request.headers.get("content-type"))
        batch = ctype == BATCH
        got: list[Admitted | Refused]
        try:
            if batch:
                got = _batch(gate, body, allowed, settings.ingress_max_batch)
            elif is_binary(request.headers.items()):
                got = [gate.admit_object(event_object(request.headers.items(), body), allowed)]
            else:
                got = [gate.admit_bytes(body, allowed)]
        except BinaryModeError as e:
            metrics.count("http", None, "refused", "malformed")
            raise HTTPException(e.status, detail=e.reason) from e
        except EnvelopeError as e:
            metrics.count("http", None, "refused", e.kind)
            raise HTTPException(400, detail=e.reason) from e
        refused = [(i, g) for i, g in enumerate(got) if isinstance(g, Refused)]
        if refused:
            for _, r in refused:
                metrics.count("http", r.source and system_of(r.source), "refused", r.kind)
            statuses = {r.status for _, r in refused}
            status = 400 if 400 in statuses else 403 if 403 in statuses else 422
            first = refused[0][1]
            detail = (
                first.reason
                if not batch
                else f"{len(refused)} of {len(got)} events refused, none published; first "
                f"(index {refused[0][0]}): {first.reason}"
            )
            return JSONResponse(
                {"detail": detail, "events": [_refusal(i, r) for i, r in refused]}, status
            )
        admitted = [g for g in got if isinstance(g, Admitted)]
        outcomes = await take(ctx.publish, ctx.db, settings, admitted, "http")
        events = [answer(o, a) for o, a in zip(outcomes, admitted, strict=True)]
        states = {o.status for o in outcomes}
        headers: dict[str, str] = {}
        if "failed" in states:
            code = 503
            headers["Retry-After"] = "5"
        elif states & {store.CONFLICT, store.IN_FLIGHT}:
            code = 409
        else:
            code = 202
            if not batch and "links" in events[0]:
                headers["Location"] = events[0]["links"]["status"]
        content: dict[str, Any] = {"events": events}
        if code != 202:
            content["detail"] = next(e["reason"] for e in events if e.get("reason"))
        return JSONResponse(content, code, headers=headers)

    @router.get(
        "/v1/events/{event_id}",
        responses={404: problem("This id was never accepted, or its record expired")},
    )
    @requires(READ_SCOPE)
    async def get_event(event_id: str) -> dict[str, Any]:
        """Whether an event id was accepted, and when (within the idempotency window)."""
        doc = await ctx.db[store.ACCEPTED].find_one({"_id": event_id})
        if doc is None:
            raise HTTPException(404, detail=f"no event {event_id} was accepted (or it expired)")
        return {
            "id": event_id,
            "state": doc.get("state"),
            "claimed_at": doc.get("claimed_at"),
            "published_at": doc.get("published_at"),
        }

    @router.post("/v1/files/{kind}", status_code=202, **FILES_DOC)
    @body_limit(limit)
    @requires(PUBLISH_SCOPE)
    async def post_file(
        kind: str, request: Request, name: str | None = None, source: str | None = None
    ) -> JSONResponse:
        """A flat file: each row becomes an event; the answer is the file's report."""
        if kind not in KINDS:
            known = ", ".join(KINDS)
            raise HTTPException(404, detail=f"unknown file kind {kind!r} (one of {known})")
        allowed = allowed_systems(request)
        content = await read_body(request, limit)
        fmt = fmt_of(name, request.headers.get("content-type"))
        report = await flat.process(
            publish=ctx.publish,
            db=ctx.db,
            gate=gate,
            settings=settings,
            kind_name=kind,
            content=content,
            fmt=fmt,
            name=name,
            source=source,
            allowed=allowed,
            channel="upload",
        )
        code = 422 if report["outcome"] == "failed" else 202
        if report.get("events_failed"):
            code = 503
        location = f"/v1/files/{report['id']}"
        return JSONResponse(_jsonable(report), code, headers={"Location": location})

    @router.get(
        "/v1/files/{file_id}", responses={404: problem("No file with this id was received")}
    )
    @requires(READ_SCOPE)
    async def get_file(file_id: str) -> JSONResponse:
        """A file's report: rows, events accepted and duplicate, rows refused and why."""
        report = await store.find_report(ctx.db, file_id)
        if report is None:
            raise HTTPException(404, detail=f"no file {file_id} was received")
        return JSONResponse(_jsonable(report))

    router.include_router(build_edi_router(ctx, settings, gate))
    return router


def _batch(
    gate: Gate, body: bytes, allowed: frozenset[str] | None, max_batch: int
) -> list[Admitted | Refused]:
    try:
        items = json.loads(body.decode("utf-8-sig"))
    except RecursionError as e:
        raise EnvelopeError("too_large", "the batch is nested too deeply") from e
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeError("malformed", f"the batch is not JSON: {e}") from e
    if not isinstance(items, list):
        raise EnvelopeError("not_cloudevent", "a batch is a JSON array of events")
    if not items:
        raise EnvelopeError("not_cloudevent", "the batch holds no event")
    if len(items) > max_batch:
        raise EnvelopeError(
            "too_large", f"the batch holds {len(items)} events; at most {max_batch} are accepted"
        )
    return [gate.admit_object(item, allowed) for item in items]


def _jsonable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: format_time(v) if hasattr(v, "tzinfo") else v for k, v in report.items()}
