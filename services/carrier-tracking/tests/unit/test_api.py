"""The HTTP router with a fake context: GET a shipment, and signed webhook pushes end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from carrier_tracking.api import build_router
from carrier_tracking.settings import CarrierTrackingSettings
from carrier_tracking.webhooks import SIGNATURE_HEADER, sign
from shared.http import create_app
from shared.service import ApiContext

PAYLOADS: dict[str, Any] = json.loads((Path(__file__).parent / "payloads.json").read_text())
SECRET = {"ups": "ups-secret", "fedex": "fedex-secret", "dhl": "dhl-secret"}
SECRET |= {"usps": "usps-secret", "generic": "generic-secret", "ontrac": "ontrac-secret"}
FAILURES = "distsync_carrier_tracking_webhook_signature_failures_total"


def app_for(ctx: ApiContext) -> FastAPI:
    """The app the runtime serves: shared errors and body limit, and this router."""

    async def ready() -> dict[str, str]:
        return {}

    app = create_app("carrier-tracking", ready)
    app.include_router(build_router(ctx))
    return app


@pytest.fixture
def client(api_ctx: ApiContext) -> TestClient:
    return TestClient(app_for(api_ctx))


def push(client: TestClient, carrier: str, raw: bytes, signature: str | None = "sign") -> Any:
    headers = {"content-type": "application/json"}
    if signature == "sign":
        signature = sign(SECRET.get(carrier, "x"), raw)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(f"/v1/webhooks/{carrier}", content=raw, headers=headers)


def raw(carrier: str) -> bytes:
    return json.dumps(PAYLOADS[carrier]).encode()


@pytest.mark.parametrize(
    ("carrier", "shape", "count"),
    [
        ("ups", "ups", 1),
        ("fedex", "fedex", 2),
        ("dhl", "dhl", 2),
        ("usps", "usps", 1),
        ("generic", "generic", 1),
        ("ontrac", "generic", 1),
    ],
)
def test_signed_push_is_published_to_carrier_events_before_202(
    client: TestClient, publisher: Any, carrier: str, shape: str, count: int
) -> None:
    r = push(client, carrier, raw(shape), sign(SECRET[carrier], raw(shape)))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == count
    assert [ex for ex, _ in publisher.sent] == ["carrier.events"] * count
    assert r.json()["event_ids"] == [ev.id for _, ev in publisher.sent]
    assert {ev.source for _, ev in publisher.sent} == {f"carrier/{carrier}-webhook"}


def test_wrong_signature_is_401_publishes_nothing_and_is_counted(
    client: TestClient, publisher: Any, metric: Callable[..., float]
) -> None:
    before = metric(FAILURES, carrier="ups", reason="invalid")
    r = push(client, "ups", raw("ups"), sign("not-the-secret", raw("ups")))
    assert r.status_code == 401 and "invalid" in r.json()["detail"]
    assert publisher.sent == []
    assert metric(FAILURES, carrier="ups", reason="invalid") == before + 1


def test_missing_signature_is_401_and_counted(
    client: TestClient, publisher: Any, metric: Callable[..., float]
) -> None:
    before = metric(FAILURES, carrier="dhl", reason="missing")
    r = push(client, "dhl", raw("dhl"), None)
    assert r.status_code == 401 and "missing" in r.json()["detail"]
    assert publisher.sent == []
    assert metric(FAILURES, carrier="dhl", reason="missing") == before + 1


def test_unknown_carrier_without_a_secret_is_404(client: TestClient) -> None:
    r = push(client, "acme", raw("generic"))
    assert r.status_code == 404 and "acme" in r.json()["detail"]


def test_known_carrier_without_a_configured_secret_is_401(
    api_ctx: ApiContext, publisher: Any
) -> None:
    api_ctx.settings = CarrierTrackingSettings(carrier_tracking_webhook_secrets={"ups": "s"})
    r = push(TestClient(app_for(api_ctx)), "fedex", raw("fedex"))
    assert r.status_code == 401 and "no webhook secret" in r.json()["detail"]
    assert publisher.sent == []


def test_signed_but_malformed_push_is_422_with_a_message(
    client: TestClient, publisher: Any
) -> None:
    r = push(client, "usps", b'{"trackingNumber": "9400"}')
    assert r.status_code == 422 and "trackingEvents" in r.json()["detail"]
    r = push(client, "usps", b"{not json")
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    assert publisher.sent == []


def test_broker_failure_answers_503_so_the_carrier_sends_again(
    client: TestClient, publisher: Any
) -> None:
    publisher.fail = True
    r = push(client, "ups", raw("ups"))
    assert r.status_code == 503


def test_oversized_push_is_413(api_ctx: ApiContext, publisher: Any) -> None:
    api_ctx.settings = CarrierTrackingSettings(
        carrier_tracking_webhook_secrets=SECRET, carrier_tracking_webhook_max_bytes=10
    )
    assert push(TestClient(app_for(api_ctx)), "ups", raw("ups")).status_code == 413


@pytest.mark.parametrize("served", [app_for, "router only"])
def test_a_chunked_push_is_refused_with_413_once_it_passes_the_limit(
    api_ctx: ApiContext, publisher: Any, served: Any
) -> None:
    api_ctx.settings = CarrierTrackingSettings(
        carrier_tracking_webhook_secrets=SECRET, carrier_tracking_webhook_max_bytes=1000
    )
    if served == "router only":  # the handler keeps the limit without the shared middleware
        app = FastAPI()
        app.include_router(build_router(api_ctx))
    else:
        app = served(api_ctx)

    def chunks() -> Any:
        for _ in range(1000):
            yield b" " * 100

    r = TestClient(app).post(
        "/v1/webhooks/ups", content=chunks(), headers={SIGNATURE_HEADER: "sha256=00"}
    )
    assert r.status_code == 413
    assert r.json()["detail"] == "request body is larger than 1000 bytes"
    assert publisher.sent == []


EDGE = "9999-12-31T23:00:00-05:00"


@pytest.mark.parametrize(
    ("carrier", "body"),
    [
        ("fedex", {"trackingNumber": "7946", "scanEvents": [{"eventType": "PU", "date": EDGE}]}),
        ("generic", {"tracking_number": "ONT-1", "events": [{"code": "delivered", "time": EDGE}]}),
        (
            "ups",
            {**PAYLOADS["ups"], "localActivityDate": "99991231", "localActivityTime": "230000"},
        ),
        ("usps", "[" * 10_000 + "]" * 10_000),
        ("dhl", '{"shipments": ' + "9" * 5000 + "}"),
    ],
    ids=["fedex-date", "generic-date", "ups-local-date", "deep-json", "long-number"],
)
def test_a_permanent_payload_problem_is_422_never_503(
    client: TestClient, publisher: Any, carrier: str, body: Any
) -> None:
    raw_body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    r = push(client, carrier, raw_body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert publisher.sent == []


def test_a_scan_ahead_of_the_configured_window_is_422_and_accepted_once_the_window_allows_it(
    api_ctx: ApiContext, publisher: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    ahead = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    body = json.dumps(
        {"tracking_number": "ONT-9", "events": [{"code": "delivered", "time": ahead}]}
    ).encode()
    api_ctx.settings = CarrierTrackingSettings(carrier_tracking_webhook_secrets=SECRET)
    r = push(TestClient(app_for(api_ctx)), "generic", body)
    assert r.status_code == 422 and "ahead" in r.json()["detail"], r.text
    assert publisher.sent == []
    api_ctx.settings = CarrierTrackingSettings(
        carrier_tracking_webhook_secrets=SECRET, event_time_max_ahead_s=6 * 3600
    )
    r = push(TestClient(app_for(api_ctx)), "generic", body)
    assert r.status_code == 202, r.text


def test_unknown_tracking_number_is_404(client: TestClient) -> None:
    r = client.get("/v1/shipments/1ZNOPE")
    assert r.status_code == 404 and "1ZNOPE" in r.json()["detail"]


def test_a_tracking_number_no_shipment_can_have_is_422(client: TestClient) -> None:
    assert client.get("/v1/shipments/" + "9" * 65).status_code == 422
    assert client.get("/v1/shipments/%20%20").status_code == 422


def test_any_tracking_number_a_scan_can_carry_is_looked_up(client: TestClient) -> None:
    assert client.get("/v1/shipments/1Z$x").status_code == 404
    assert client.get("/v1/shipments/1Zé").status_code == 404


async def test_a_tracking_number_with_a_slash_is_read_percent_encoded(
    client: TestClient, runtime: Any
) -> None:
    await runtime.scan("JD/0142/7", "AR", 1)
    r = client.get("/v1/shipments/jd%2F0142%2F7")
    assert r.status_code == 200, r.text
    assert r.json()["tracking_number"] == "JD/0142/7"
    assert client.get("/v1/shipments/JD/0142/7").status_code == 404


async def test_shipment_view_shows_order_milestone_and_full_history(
    client: TestClient, runtime: Any, publisher: Any
) -> None:
    tn = "1Z999AA10123456784"
    await runtime.shipped(tn)
    for code, hour in (("MP", 0.5), ("OR", 1), ("Q7", 2), ("AR", 3)):
        await runtime.scan(tn, code, hour)
    # A webhook push goes through carrier.events and the same handler as broker scans.
    assert push(client, "ups", raw("ups")).status_code == 202
    assert push(client, "ups", raw("ups")).status_code == 202  # re-sent: same id
    for _, ev in publisher.sent:
        await runtime.deliver(ev)
    view = client.get("/v1/shipments/1z999aa10123456784").json()
    assert (view["carrier"], view["order_id"], view["shipment_id"]) == ("ups", "ORD-1", "SHP-1")
    assert (view["milestone"], view["native_code"]) == ("in_transit", "AR")
    codes = [(h["native_code"], h["milestone"], h["unmapped"]) for h in view["history"]]
    assert codes == [
        ("MP", "label_created", False),
        ("OR", "picked_up", False),
        ("Q7", None, True),
        ("AR", "in_transit", False),
        ("AR", "in_transit", False),
    ]
    assert publisher.sent[0][1].id == publisher.sent[1][1].id


def test_secrets_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    env = '{"UPS": "ups-s3cret", "FedEx": "fx-s3cret"}'
    monkeypatch.setenv("DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS", env)
    s = CarrierTrackingSettings()
    assert s.carrier_tracking_webhook_secrets == {"ups": "ups-s3cret", "fedex": "fx-s3cret"}
    assert "s3cret" not in repr(s)
