"""A real service's HTTP API behind authentication, against a real local token issuer (JWKS and
OpenID discovery over HTTP), with the real broker and database behind it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from auth_issuer import LocalIssuer

from distsync_sim.testing import free_port
from order_status.main import SERVICE
from runtime_support import eventually
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

READER_KEY = "k-reader-" + "7" * 40
OTHER_KEY = "k-other-" + "3" * 40


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as iss:
        iss.new_key()
        yield iss


def keys_file(tmp: Path) -> str:
    path = tmp / "keys.json"
    path.write_text(
        json.dumps(
            [
                {"client": "erp-reader", "sha256": digest(READER_KEY), "scopes": ["orders:read"]},
                {"client": "wms", "sha256": digest(OTHER_KEY), "scopes": ["availability:read"]},
            ]
        )
    )
    return str(path)


@pytest.fixture
async def service(
    issuer: LocalIssuer, amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> AsyncIterator[tuple[str, ServiceRuntime]]:
    auth = AuthSettings(
        mode="jwt+api_keys",
        issuer=issuer.url,
        audience="distsync",
        api_keys_file=keys_file(tmp_path),
        jwks_refresh_min_s=0,
        throttle_groups={"orders:read": {"rate": 2, "burst": 3}},
    )
    port = free_port()
    settings = (SERVICE.settings_cls or ServiceSettings)(
        amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_db=db_name, http_port=port,
        log_json=False,
    )  # fmt: skip
    rt = ServiceRuntime(SERVICE, settings, auth=auth)
    await rt.start(serve_http=True)
    try:
        yield f"http://127.0.0.1:{port}", rt
    finally:
        await rt.stop()


async def get(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, headers=headers)


async def test_tokens_are_checked_and_scopes_enforced(service, issuer: LocalIssuer) -> None:
    base, _ = service
    orders = f"{base}/v1/orders"
    r = await get(orders)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "credentials" in r.json()["detail"]
    for bad, why in (
        (issuer.token(scope="orders:read", audience="someone-else"), "audience"),
        (issuer.token(scope="orders:read", expires_in=-3600), "expired"),
        (issuer.token(scope="orders:read", issuer="https://evil.example"), "issuer"),
        ("not.a.jwt", "malformed"),
    ):
        r = await get(orders, bad)
        assert r.status_code == 401, why
        assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), why
        assert why in r.json()["detail"], (why, r.json())
    r = await get(orders, issuer.token(scope="availability:read"))
    assert r.status_code == 403 and "orders:read" in r.json()["detail"]
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = await get(orders, issuer.token(scope="availability:read orders:read"))
    assert r.status_code == 200 and r.json()["items"] == []
    r = await get(orders, issuer.token("bob", roles=["reader"]))  # a role mapped to scopes
    assert r.status_code == 200
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert (await get(base + open_path)).status_code == 200, open_path


async def test_a_token_signed_with_hs256_or_an_unknown_key_is_refused(service, issuer) -> None:
    base, _ = service
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": "distsync", "sub": "x", "exp": now + 60}
    forged = jwt.encode({**claims, "scope": "orders:read"}, "k" * 32, algorithm="HS256")
    r = await get(f"{base}/v1/orders", forged)
    assert r.status_code == 401 and "HS256" in r.json()["detail"]
    stranger = issuer.new_key(publish=False)  # never in the JWKS
    r = await get(f"{base}/v1/orders", issuer.token(kid=stranger, scope="orders:read"))
    assert r.status_code == 401 and "unknown key" in r.json()["detail"]


async def test_key_rotation_mid_run_keeps_working(service, issuer: LocalIssuer) -> None:
    base, _ = service
    assert (await get(f"{base}/v1/orders", issuer.token(scope="orders:read"))).status_code == 200
    fetched = issuer.jwks_requests
    new_kid = issuer.rotate()
    r = await get(f"{base}/v1/orders", issuer.token(kid=new_kid, scope="orders:read"))
    assert r.status_code == 200
    assert issuer.jwks_requests == fetched + 1  # refetched once, for the unknown kid


async def test_throttling_answers_429_with_retry_after_and_recovers(service, issuer) -> None:
    base, _ = service
    token = issuer.token("throttled-client", scope="orders:read")
    codes = [(await get(f"{base}/v1/orders", token)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = await get(f"{base}/v1/orders", token)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "throttled-client" in r.json()["detail"]
    other = issuer.token("someone-else", scope="orders:read")  # a bucket of its own
    assert (await get(f"{base}/v1/orders", other)).status_code == 200

    async def recovered() -> bool:
        return (await get(f"{base}/v1/orders", token)).status_code == 200

    await eventually(recovered, timeout=5, interval=0.2)
    metrics = (await get(f"{base}/metrics")).text
    assert 'client="throttled-client",group="orders:read",outcome="throttled"' in metrics


async def test_api_keys_right_wrong_and_short_of_scope(service) -> None:
    base, _ = service
    orders = f"{base}/v1/orders"
    assert (await get(orders, **{"X-API-Key": READER_KEY})).status_code == 200
    r = await get(orders, **{"X-API-Key": READER_KEY + "x"})
    assert r.status_code == 401 and r.json()["detail"] == "unknown API key"
    r = await get(orders, **{"X-API-Key": OTHER_KEY})
    assert r.status_code == 403 and "orders:read" in r.json()["detail"]


async def test_the_served_document_declares_the_schemes_and_scopes(service) -> None:
    base, _ = service
    doc: dict[str, Any] = (await get(f"{base}/openapi.json")).json()
    assert set(doc["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}
    op = doc["paths"]["/v1/orders"]["get"]
    assert op["security"] == [{"bearerAuth": ["orders:read"]}, {"apiKeyAuth": ["orders:read"]}]
    assert "security" not in doc["paths"]["/healthz"]["get"]


async def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_interval(issuer) -> None:
    from shared.auth.errors import Unauthenticated
    from shared.auth.tokens import TokenVerifier

    v = TokenVerifier(
        AuthSettings(mode="jwt", issuer=issuer.url, audience="distsync", jwks_refresh_min_s=60)
    )
    assert (await v.verify(issuer.token(scope="x")))["sub"] == "alice"
    fetched = issuer.jwks_requests
    for _ in range(5):  # a caller making up key ids cannot make us hammer the issuer
        stranger = issuer.new_key(publish=False)
        with pytest.raises(Unauthenticated, match="unknown key"):
            await v.verify(issuer.token(kid=stranger))
    assert issuer.jwks_requests == fetched
