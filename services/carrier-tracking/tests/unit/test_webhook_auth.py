"""Push authentication per carrier: the signed-body default, an HMAC header named by the
carrier (FedEx `fdx-signature`, base64), and a shared credential chosen at subscription."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from carrier_tracking.settings import CarrierTrackingSettings
from carrier_tracking.webhook_auth import (
    DEFAULT_AUTH,
    SIGNATURE_HEADER,
    WebhookAuth,
    check,
    sign,
    sign_as,
)
from shared.service import ApiContext

PAYLOADS: dict[str, Any] = json.loads((Path(__file__).parent / "payloads.json").read_text())
FAILURES = "distsync_carrier_tracking_webhook_signature_failures_total"
FEDEX = WebhookAuth(scheme="hmac", header="fdx-signature", encoding="base64")
UPS = WebhookAuth(scheme="credential", header="Authorization", prefix="Bearer ")
BODY = b'{"output": {"completeTrackResults": []}}'


def fdx_signature(token: str, body: bytes) -> str:
    """As FedEx documents it: base64 of HMAC-SHA256 over the payload, keyed by the token."""
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def test_the_fedex_header_is_the_base64_hmac_of_the_body() -> None:
    assert sign_as(FEDEX, "tok3n", BODY) == fdx_signature("tok3n", BODY)
    assert check(FEDEX, "tok3n", BODY, {"fdx-signature": fdx_signature("tok3n", BODY)}) is None


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "missing"),
        ({"fdx-signature": "  "}, "missing"),
        ({"fdx-signature": "not base64!"}, "malformed"),
        ({"fdx-signature": fdx_signature("other", BODY)}, "invalid"),
        ({"fdx-signature": fdx_signature("tok3n", BODY + b" ")}, "invalid"),
        ({"fdx-signature": "é"}, "malformed"),
        ({SIGNATURE_HEADER: sign("tok3n", BODY)}, "missing"),  # the default header is not read
    ],
)
def test_a_wrong_fedex_header_is_refused_with_what_is_wrong(
    headers: dict[str, str], problem: str
) -> None:
    assert check(FEDEX, "tok3n", BODY, headers) == problem


def test_a_hex_hmac_header_with_a_prefix() -> None:
    auth = WebhookAuth(scheme="hmac", header="X-Carrier-Signature", prefix="sha256=")
    value = "sha256=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest()
    assert sign_as(auth, "k", BODY) == value
    assert check(auth, "k", BODY, {"X-Carrier-Signature": value}) is None
    assert check(auth, "k", BODY, {"X-Carrier-Signature": value[7:]}) == "malformed"
    assert check(auth, "k", BODY, {"X-Carrier-Signature": "sha256=zz"}) == "malformed"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Bearer s3cret-credential", None),
        ("bearer s3cret-credential", None),  # the scheme word in any case
        ("Bearer s3cret-credentiaL", "invalid"),
        ("Bearer s3cret", "invalid"),
        ("s3cret-credential", "malformed"),
        ("Bearer ", "malformed"),
        ("", "missing"),
    ],
)
def test_the_ups_credential_header(value: str, problem: str | None) -> None:
    assert check(UPS, "s3cret-credential", BODY, {"Authorization": value}) == problem


def test_the_default_is_the_signed_body_scheme() -> None:
    assert DEFAULT_AUTH.header_name == SIGNATURE_HEADER
    assert check(DEFAULT_AUTH, "k", BODY, {SIGNATURE_HEADER: sign("k", BODY)}) is None
    assert check(DEFAULT_AUTH, "k", BODY, {SIGNATURE_HEADER: "sha256=00"}) == "invalid"


@pytest.mark.parametrize(
    "config",
    [
        {"scheme": "hmac"},  # no header
        {"scheme": "credential"},
        {"scheme": "basic", "header": "Authorization"},
        {"scheme": "hmac", "header": "x", "encoding": "base32"},
        {"scheme": "hmac", "header": "x", "secret": "not here"},  # secrets live elsewhere
    ],
)
def test_an_auth_configuration_that_cannot_work_is_refused_at_start(
    config: dict[str, str],
) -> None:
    with pytest.raises(ValidationError):
        CarrierTrackingSettings(carrier_tracking_webhook_auth={"fedex": config})


def test_the_auth_configuration_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "DISTSYNC_CARRIER_TRACKING_WEBHOOK_AUTH",
        '{"FedEx": {"scheme": "hmac", "header": "fdx-signature", "encoding": "base64"},'
        ' "UPS": {"scheme": "credential", "header": "Authorization", "prefix": "Bearer "}}',
    )
    s = CarrierTrackingSettings()
    assert s.carrier_tracking_webhook_auth == {"fedex": FEDEX, "ups": UPS}


# Through the HTTP endpoint


@pytest.fixture
def client(api_ctx: ApiContext, serve: Callable[[ApiContext], TestClient]) -> TestClient:
    api_ctx.settings = CarrierTrackingSettings(
        carrier_tracking_webhook_secrets={"fedex": "tok3n", "ups": "cred", "dhl": "dhl-secret"},
        carrier_tracking_webhook_auth={"fedex": FEDEX, "ups": UPS},
    )
    return serve(api_ctx)


def raw(carrier: str) -> bytes:
    return json.dumps(PAYLOADS[carrier]).encode()


def test_a_fedex_push_with_its_own_signature_is_accepted(
    client: TestClient, publisher: Any
) -> None:
    body = raw("fedex")
    r = client.post(
        "/v1/webhooks/fedex", content=body, headers={"fdx-signature": fdx_signature("tok3n", body)}
    )
    assert r.status_code == 202, r.text
    assert len(publisher.sent) == 2


def test_a_ups_push_with_the_subscription_credential_is_accepted(
    client: TestClient, publisher: Any
) -> None:
    r = client.post(
        "/v1/webhooks/ups", content=raw("ups"), headers={"Authorization": "Bearer cred"}
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    ("carrier", "headers", "reason"),
    [
        ("fedex", {}, "missing"),
        ("fedex", {"fdx-signature": "AAAA"}, "invalid"),
        ("fedex", {SIGNATURE_HEADER: "sign"}, "missing"),  # the other scheme does not count
        ("ups", {"Authorization": "Bearer wrong"}, "invalid"),
        ("ups", {"Authorization": "cred"}, "malformed"),
        ("dhl", {"fdx-signature": "x"}, "missing"),  # dhl keeps the default scheme
    ],
)
def test_a_push_without_the_carriers_proof_is_401_counted_and_unpublished(
    client: TestClient,
    publisher: Any,
    metric: Callable[..., float],
    carrier: str,
    headers: dict[str, str],
    reason: str,
) -> None:
    body = raw(carrier)
    if headers.get(SIGNATURE_HEADER) == "sign":
        headers = {SIGNATURE_HEADER: sign("tok3n", body)}
    before = metric(FAILURES, carrier=carrier, reason=reason)
    r = client.post(f"/v1/webhooks/{carrier}", content=body, headers=headers)
    assert r.status_code == 401 and reason in r.json()["detail"], r.text
    assert "tok3n" not in r.text and "Bearer cred" not in r.text  # no secret echoed
    assert publisher.sent == []
    assert metric(FAILURES, carrier=carrier, reason=reason) == before + 1


def test_a_configured_scheme_without_a_secret_is_still_refused(
    api_ctx: ApiContext, publisher: Any, serve: Callable[[ApiContext], TestClient]
) -> None:
    api_ctx.settings = CarrierTrackingSettings(carrier_tracking_webhook_auth={"fedex": FEDEX})
    body = raw("fedex")
    r = serve(api_ctx).post(
        "/v1/webhooks/fedex", content=body, headers={"fdx-signature": fdx_signature("", body)}
    )
    assert r.status_code == 401 and "no webhook secret" in r.json()["detail"]
    assert publisher.sent == []


def test_the_default_scheme_still_works_beside_configured_ones(
    client: TestClient, publisher: Any
) -> None:
    body = raw("dhl")
    r = client.post(
        "/v1/webhooks/dhl", content=body, headers={SIGNATURE_HEADER: sign("dhl-secret", body)}
    )
    assert r.status_code == 202, r.text
