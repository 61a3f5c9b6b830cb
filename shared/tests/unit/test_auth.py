"""shared.auth without a network: configuration refused, claims to scopes, throttling, API keys,
the audit export formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from runtime_support import counter_service, settings_for
from shared.auth import AuthConfigError, AuthSettings, Guard
from shared.auth import claims as C
from shared.auth.apikeys import ApiKey, ApiKeys, digest
from shared.auth.audit import to_csv, to_jsonl
from shared.auth.throttle import MAX_CLIENT_LABELS, Throttle, retry_after
from shared.runtime import ServiceRuntime, serve_forever


@pytest.fixture
def no_auth_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DISTSYNC_AUTH_"):
            monkeypatch.delenv(name)


def refused(settings: AuthSettings) -> str:
    g = Guard(settings, "svc")
    with pytest.raises(AuthConfigError) as e:
        g.check()
    return str(e.value)


def test_no_mode_or_a_wrong_one_is_refused_never_opened(no_auth_env) -> None:
    assert "DISTSYNC_AUTH_MODE is not set" in refused(AuthSettings())
    assert "one of jwt, api_keys" in refused(AuthSettings(mode="jwt-ish"))
    assert "DISTSYNC_AUTH_AUDIENCE" in refused(AuthSettings(mode="jwt", issuer="https://i"))
    assert "DISTSYNC_AUTH_ISSUER" in refused(AuthSettings(mode="jwt", audience="a"))
    hs = AuthSettings(mode="jwt", issuer="https://i", audience="a", algorithms="RS256,HS256")
    assert "HS256" in refused(hs)
    assert "DISTSYNC_AUTH_API_KEYS_FILE" in refused(AuthSettings(mode="api_keys"))
    missing = AuthSettings(mode="jwt+api_keys", issuer="i", audience="a", api_keys_file="/nope")
    assert "unreadable" in refused(missing)
    Guard(AuthSettings(mode="open"), "svc").check()  # runs (and warns)


def test_the_environment_names_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTSYNC_AUTH_MODE", "jwt")
    monkeypatch.setenv("DISTSYNC_AUTH_ISSUER", "https://issuer.example")
    monkeypatch.setenv("DISTSYNC_AUTH_AUDIENCE", "distsync")
    monkeypatch.setenv("DISTSYNC_AUTH_THROTTLE_GROUPS", '{"dlq:replay": {"rate": 1, "burst": 2}}')
    s = AuthSettings()
    Guard(s, "svc").check()
    assert s.rate_for("dlq:replay").burst == 2 and s.rate_for("orders:read").burst == 40


@pytest.mark.parametrize(
    "entries, why",
    [
        ({"client": "a"}, "a JSON list"),
        ([{"client": "a", "sha256": "xyz", "scopes": []}], "64 hex"),
        ([{"client": "", "sha256": "0" * 64, "scopes": []}], "client"),
        ([{"client": "a", "sha256": "0" * 64, "scopes": "orders:read"}], "scopes"),
        ([{"client": "a", "sha256": "0" * 64, "scopes": []}] * 2, "twice"),
    ],
)
def test_a_bad_keys_file_is_refused(tmp_path: Path, entries: object, why: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(entries))
    assert why in refused(AuthSettings(mode="api_keys", api_keys_file=str(path)))


def test_api_keys_are_matched_by_digest() -> None:
    k = ApiKeys([ApiKey("erp", bytes.fromhex(digest("secret-1")), frozenset({"orders:read"}))])
    who = k.identify("secret-1")
    assert who is not None and who.client == "erp" and who.has("orders:read")
    assert not who.has("dlq:replay")
    assert k.identify("secret-2") is None


async def test_a_service_without_a_mode_refuses_to_serve_http(
    no_auth_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.runtime.configure", lambda *a, **k: None)  # leave logging be
    svc = counter_service()
    settings = settings_for("amqp://127.0.0.1:1/", "mongodb://127.0.0.1:1/", "t_x")
    rt = ServiceRuntime(svc, settings)
    with pytest.raises(AuthConfigError, match="DISTSYNC_AUTH_MODE"):
        await rt.start(serve_http=True)  # before any connection is tried
    await rt.client.close()
    with pytest.raises(SystemExit, match="refusing to start"):
        await serve_forever(svc, settings)


def test_claims_give_scopes_from_scope_scp_and_mapped_roles() -> None:
    s = AuthSettings(roles_claim="realm_access.roles", role_scopes={"ops": ["dlq:read"]})
    who = C.identity(
        {
            "sub": "u1",
            "scope": "orders:read returns:read",
            "scp": ["receipts:read"],
            "realm_access": {"roles": ["ops", "dlq-approver", "unknown"]},
        },
        s,
    )
    assert who.scopes == {"orders:read", "returns:read", "receipts:read", "dlq:read", "dlq:approve"}
    assert who.roles == {"ops", "dlq-approver", "unknown"} and who.name == "jwt:u1"
    client = C.identity({"client_id": "svc-account", "scp": "a:b"}, s)
    assert client.subject == "svc-account" and client.scopes == {"a:b"}


def test_the_bucket_allows_the_burst_then_throttles_then_refills() -> None:
    now = [1000.0]
    t = Throttle(AuthSettings(throttle_rate=2, throttle_burst=3), "svc", clock=lambda: now[0])
    assert [t.take("c", "g") for _ in range(3)] == [None, None, None]
    wait = t.take("c", "g")
    assert wait == pytest.approx(0.5) and retry_after(wait) == "1"
    assert t.take("other", "g") is None  # per client
    assert t.take("c", "another-group") is None  # per route group
    now[0] += 0.5
    assert t.take("c", "g") is None and t.take("c", "g") is not None


def test_client_labels_are_bounded() -> None:
    t = Throttle(AuthSettings(), "svc")
    labels = {t.label(f"client-{i}") for i in range(MAX_CLIENT_LABELS + 20)}
    assert len(labels) == MAX_CLIENT_LABELS + 1 and "other" in labels
    assert t.label("client-0") == "client-0"


def test_audit_entries_export_as_jsonl_and_csv() -> None:
    entries = [
        {
            "id": "e1",
            "at": "2026-01-01T00:00:00+00:00",
            "action": "dlq.replay",
            "target": "availability",
            "identity": {"subject": "alice", "client": "alice", "method": "jwt"},
            "result": "done",
            "selector": {"types": ["a.*"]},
            "counts": {"matched": 3},
            "detail": {},
        }
    ]
    buf = io.StringIO()
    assert to_jsonl(entries, buf) == 1 and json.loads(buf.getvalue())["action"] == "dlq.replay"
    buf = io.StringIO()
    assert to_csv(entries, buf) == 1
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rows[0]["subject"] == "alice" and json.loads(rows[0]["counts"]) == {"matched": 3}


def test_the_challenge_header_stays_printable_ascii() -> None:
    from shared.auth.guard import challenge

    value = challenge("invalid_token", 'unknown key ("kïd\\\n€")', "orders:read")
    assert value.isascii() and "\n" not in value and value.count('"') == 6
    value.encode("latin-1")
