"""Who may use the DLQ admin API, and when it refuses to start; allowed `Host`s.

Authentication is `shared.auth` (`DISTSYNC_AUTH_MODE`: JWTs, API keys), with the scopes
`dlq:read`, `dlq:replay`, `dlq:purge`, `dlq:approve` and `audit:read`. The older single shared
token (`DISTSYNC_DLQ_API_TOKEN`) still works, alone or beside them: it holds every scope but
`dlq:approve`. Without either the API runs only as a laptop run on loopback (`--insecure-local`
or `DISTSYNC_AUTH_MODE=open`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from distsync_ops.dlq.errors import UsageError
from distsync_ops.dlq.settings import DlqSettings
from shared.auth import AuthSettings, Guard, Identity
from shared.auth.scopes import AUDIT_READ, DLQ_PURGE, DLQ_READ, DLQ_REPLAY

MIN_TOKEN_CHARS = 16
TOKEN_SCOPES = frozenset({DLQ_READ, DLQ_REPLAY, DLQ_PURGE, AUDIT_READ})
TOKEN_IDENTITY = Identity("dlq-api-token", "dlq-api-token", "token", TOKEN_SCOPES)


class InsecureStart(UsageError):
    """The API would run without authentication, or unauthenticated off loopback."""


def effective_auth(settings: DlqSettings, auth: AuthSettings) -> AuthSettings:
    """`--insecure-local` with no mode and no token is the open mode."""
    if auth.mode is None and settings.dlq_api_insecure_local and not settings.dlq_api_token:
        return auth.model_copy(update={"mode": "open"})
    return auth


def guard_for(settings: DlqSettings, auth: AuthSettings) -> Guard:
    token = settings.dlq_api_token
    static = {token: TOKEN_IDENTITY} if token else {}
    return Guard(effective_auth(settings, auth), "dlq-admin", static_tokens=static)


def check_start(
    settings: DlqSettings, host: str | None = None, auth: AuthSettings | None = None
) -> None:
    """Refuse a configuration that would let anyone who reaches the port act on the DLQs."""
    auth = auth or AuthSettings()
    token = settings.dlq_api_token
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise InsecureStart(
            f"DISTSYNC_DLQ_API_TOKEN is shorter than {MIN_TOKEN_CHARS} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    mode = effective_auth(settings, auth).mode
    if settings.dlq_api_insecure_local or mode == "open":
        why = "--insecure-local" if settings.dlq_api_insecure_local else "DISTSYNC_AUTH_MODE=open"
        if host is not None and not is_loopback(host):
            raise InsecureStart(f"{why} binds to loopback only (127.0.0.1, ::1), not {host!r}")
    elif not token and mode is None:
        raise InsecureStart(
            "the DLQ admin API needs DISTSYNC_AUTH_MODE (jwt, api_keys or jwt+api_keys; see "
            "docs/security.md) or DISTSYNC_DLQ_API_TOKEN (a bearer token every request must "
            "carry); on a laptop, `--insecure-local` runs it without one on 127.0.0.1"
        )
    if not settings.dlq_api_allowed_hosts:
        raise InsecureStart("DISTSYNC_DLQ_API_ALLOWED_HOSTS is empty: no request could pass")
    problem = guard_for(settings, auth).problem
    if problem is not None:
        raise InsecureStart(problem)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowed(header: str, allowed: Sequence[str]) -> bool:
    """`Host` (with or without a port, IPv6 in brackets) against names, `*.domain` or `*`."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    for pattern in (p.strip().lower() for p in allowed):
        if pattern == "*" or host == pattern.strip("[]"):
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False
