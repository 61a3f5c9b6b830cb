"""HTTP: a tracking number's milestone and history, and the signed carrier webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from carrier_tracking import metrics, store, webhook_auth, webhooks
from carrier_tracking.domain.carriers import ExceptionReason, Milestone
from carrier_tracking.domain.tracking import HistoryEntry, current_status, history
from carrier_tracking.messages import MAX_TRACKING_NUMBER, normalise_tracking_number
from carrier_tracking.settings import settings_of
from shared.auth import own_authentication
from shared.http import ERROR_RESPONSES, SegmentRoute, body_limit, problem, read_body
from shared.service import ApiContext

log = structlog.get_logger(__name__)

SIGNATURE_PARAMETER = {
    "name": webhooks.SIGNATURE_HEADER,
    "in": "header",
    "required": False,
    "description": "`sha256=<hex HMAC-SHA256 of the raw body under the carrier's secret>`: "
    "required unless the carrier is configured for another scheme "
    "(DISTSYNC_CARRIER_TRACKING_WEBHOOK_AUTH, docs/carriers.md), such as FedEx's "
    "`fdx-signature` or a credential header chosen at subscription",
    "schema": {"type": "string"},
}


class ShipmentView(BaseModel):
    tracking_number: str
    carrier: str
    shipment_id: str | None
    order_id: str | None
    shipped_at: datetime | None
    milestone: Milestone | None
    milestone_at: datetime | None
    previous_milestone: Milestone | None
    exception_reason: ExceptionReason | None
    native_code: str | None
    description: str | None
    history: list[HistoryEntry]


class AcceptedScan(BaseModel):
    scan: str  # where in the body, e.g. `trackingEvents[2]`
    tracking_number: str
    native_code: str
    time: datetime
    event_id: str


class SkippedScan(BaseModel):
    scan: str
    tracking_number: str | None
    reason: str


class WebhookAccepted(BaseModel):
    carrier: str
    accepted: int
    event_ids: list[str]
    scans: list[AcceptedScan] = []
    skipped: list[SkippedScan] = []


def _answer(name: str, push: webhooks.Push) -> WebhookAccepted:
    return WebhookAccepted(
        carrier=name,
        accepted=len(push.events),
        event_ids=[e.id for e in push.events],
        scans=[
            AcceptedScan(
                scan=a.where,
                tracking_number=a.report.tracking_number,
                native_code=a.report.native_code,
                time=a.report.time,
                event_id=a.event_id,
            )
            for a in push.accepted
        ],
        skipped=[
            SkippedScan(scan=s.where, tracking_number=s.tracking_number, reason=s.reason)
            for s in push.skipped
        ],
    )


def _tracking_number(raw: str) -> str:
    """Spelt as `tracking.reported` stores it: without spaces, in upper case."""
    tn = normalise_tracking_number(raw)
    if not tn or len(tn) > MAX_TRACKING_NUMBER:
        raise HTTPException(
            422,
            detail=f"tracking number must be 1-{MAX_TRACKING_NUMBER} characters besides spaces",
        )
    return tn


WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem(
        "The signature or credential is missing, malformed or wrong, or none is configured"
    ),
    404: problem("No webhook for this carrier"),
    422: problem(
        "Authenticated, but no scan in it can be read (the reasons are listed): "
        "do not send it again"
    ),
    503: problem("The broker did not take the push: send it again"),
}


def build_router(ctx: ApiContext) -> APIRouter:
    """Path segments are percent-decoded once: `A/B` is `/v1/shipments/A%2FB`."""
    router = APIRouter(
        tags=["carrier-tracking"], route_class=SegmentRoute, responses=ERROR_RESPONSES
    )
    limit = settings_of(ctx.settings).carrier_tracking_webhook_max_bytes

    @router.get(
        "/v1/shipments/{tracking_number}",
        response_model=ShipmentView,
        responses={404: problem("No scans or shipment known for this tracking number")},
    )
    async def get_shipment(tracking_number: str) -> ShipmentView:
        """The shipment's current milestone and every scan, in scan-time order."""
        tn = _tracking_number(tracking_number)
        state = await store.find(ctx.db, tn)
        if state is None:
            raise HTTPException(404, detail=f"no scans or shipment known for tracking number {tn}")
        status, reg = current_status(state), state.registration
        return ShipmentView(
            tracking_number=tn,
            carrier=state.carrier,
            shipment_id=reg.shipment_id if reg else None,
            order_id=reg.order_id if reg else None,
            shipped_at=reg.shipped_at if reg else None,
            milestone=status.milestone if status else None,
            milestone_at=status.at if status else None,
            previous_milestone=status.previous if status else None,
            exception_reason=status.exception_reason if status else None,
            native_code=status.native_code if status else None,
            description=status.description if status else None,
            history=history(state),
        )

    @router.post(
        "/v1/webhooks/{carrier}",
        status_code=202,
        response_model=WebhookAccepted,
        responses={**WEBHOOK_RESPONSES, 413: problem(f"The body is larger than {limit} bytes")},
        openapi_extra={
            "parameters": [SIGNATURE_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": webhooks.push_schema()}},
            },
        },
    )
    @body_limit(limit)
    @own_authentication  # the carrier's signature, not a token: reachable without one
    async def carrier_webhook(carrier: str, request: Request) -> WebhookAccepted:
        """A carrier's authenticated push; its readable scans are published to carrier.events
        before 202 is answered, and the answer lists them and the skipped ones."""
        settings = settings_of(ctx.settings)
        secrets = settings.carrier_tracking_webhook_secrets
        auths = settings.carrier_tracking_webhook_auth
        window = settings.event_time_window()
        name = webhooks.carrier_name(carrier)
        if name is None or (name not in webhooks.WEBHOOK_CARRIERS and name not in secrets):
            raise HTTPException(404, detail=f"unknown carrier {carrier!r}: no webhook for it")
        label = metrics.carrier_label(name)
        secret = secrets.get(name)
        if not secret:
            metrics.WEBHOOK_SIGNATURE_FAILURES.labels(label, "not_configured").inc()
            raise HTTPException(401, detail=f"no webhook secret is configured for {name}")
        body = await read_body(request, limit)
        auth = auths.get(name, webhook_auth.DEFAULT_AUTH)
        refused = webhook_auth.check(auth, secret, body, request.headers)
        if refused is not None:
            metrics.WEBHOOK_SIGNATURE_FAILURES.labels(label, refused).inc()
            log.warning("webhook_signature_refused", carrier=name, reason=refused)
            raise HTTPException(
                401, detail=f"{auth.header_name} {refused}: expected {auth.expected()}"
            )
        try:
            push = webhooks.read_push(name, body, window)
        except webhooks.WebhookPayloadError as e:
            raise HTTPException(422, detail=str(e)) from e
        events = push.events
        for ev in events:
            try:
                await ctx.publish(webhooks.EXCHANGE, ev)
            except Exception as e:
                log.error("webhook_publish_failed", carrier=name, error=str(e))
                raise HTTPException(503, detail="could not publish the push; send it again") from e
        metrics.WEBHOOK_EVENTS.labels(label).inc(len(events))
        if push.skipped:  # counted once the push is taken, not on every retry
            metrics.WEBHOOK_SKIPPED_SCANS.labels(label).inc(len(push.skipped))
            log.warning(
                "webhook_scans_skipped",
                carrier=name,
                skipped=[f"{s.where}: {s.reason}" for s in push.skipped[:10]],
            )
        log.info("webhook_accepted", carrier=name, events=len(events))
        return _answer(name, push)

    return router
