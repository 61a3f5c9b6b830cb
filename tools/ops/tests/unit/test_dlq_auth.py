"""The DLQ admin API with `shared.auth`: what it refuses to start with, the single shared token
beside API keys, and its OpenAPI document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from distsync_ops import dlq as D
from distsync_ops import dlq_api as A
from shared.auth import AuthSettings
from shared.auth.apikeys import digest

TOKEN = "an-old-shared-token-of-the-dlq-api"
KEY = "reader-" + "r" * 40


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DISTSYNC_AUTH_", "DISTSYNC_DLQ_API_")):
            monkeypatch.delenv(name)


def keys(tmp_path: Path) -> str:
    path = tmp_path / "keys.json"
    entry = {"client": "reader", "sha256": digest(KEY), "scopes": ["dlq:read"]}
    path.write_text(json.dumps([entry]))
    return str(path)


def test_a_wrong_mode_or_open_off_loopback_is_refused() -> None:
    with pytest.raises(A.InsecureStart, match="DISTSYNC_AUTH_MODE"):
        A.create_dlq_app(D.DlqSettings(), AuthSettings())
    with pytest.raises(A.InsecureStart, match="DISTSYNC_AUTH_API_KEYS_FILE"):
        A.create_dlq_app(D.DlqSettings(), AuthSettings(mode="api_keys"))
    with pytest.raises(A.InsecureStart, match="DISTSYNC_AUTH_AUDIENCE"):
        A.create_dlq_app(D.DlqSettings(dlq_api_token=TOKEN), AuthSettings(mode="jwt", issuer="i"))
    with pytest.raises(A.InsecureStart, match="loopback"):
        A.check_start(D.DlqSettings(), "0.0.0.0", AuthSettings(mode="open"))
    A.check_start(D.DlqSettings(), "127.0.0.1", AuthSettings(mode="open"))


async def test_the_shared_token_works_beside_api_keys_but_cannot_approve(tmp_path) -> None:
    auth = AuthSettings(mode="api_keys", api_keys_file=keys(tmp_path))
    app = A.create_dlq_app(D.DlqSettings(dlq_api_token=TOKEN), auth)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as http:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        r = await http.post("/v1/dlq/approvals/x/approve", headers=bearer)
        assert r.status_code == 403 and "dlq:approve" in r.json()["detail"]
        r = await http.post("/v1/dlq/returns/purge", json={"all": True}, headers={"X-API-Key": KEY})
        assert r.status_code == 403 and "dlq:purge" in r.json()["detail"]
        r = await http.get("/v1/dlq/tasks", headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json() == []
        r = await http.get("/v1/dlq/tasks", headers={"Authorization": "Bearer wrong-token"})
        assert r.status_code == 401
        doc = (await http.get("/openapi.json")).json()
    assert set(doc["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}
    ops = {(p, m): op.get("security") for p, item in doc["paths"].items() for m, op in item.items()}
    assert ops[("/v1/dlq/{service}/replay", "post")][0] == {"bearerAuth": ["dlq:replay"]}
    assert ops[("/v1/dlq/{service}/purge", "post")][0] == {"bearerAuth": ["dlq:purge"]}
    assert ops[("/v1/dlq/approvals/{approval_id}/approve", "post")][0] == {
        "bearerAuth": ["dlq:approve"]
    }
    assert ops[("/v1/audit", "get")][0] == {"bearerAuth": ["audit:read"]}
    assert ops[("/v1/dlq", "get")][0] == {"bearerAuth": ["dlq:read"]}
    assert ops[("/healthz", "get")] is None
