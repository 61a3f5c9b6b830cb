"""Who may use the DLQ admin API: a bearer token, or a laptop run on loopback; allowed `Host`s."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from distsync_ops.dlq.errors import UsageError
from distsync_ops.dlq.settings import DlqSettings

MIN_TOKEN_CHARS = 16


class InsecureStart(UsageError):
    """The API would run without authentication, or unauthenticated off loopback."""


def check_start(settings: DlqSettings, host: str | None = None) -> None:
    """Refuse a configuration that would let anyone who reaches the port act on the DLQs."""
    token = settings.dlq_api_token
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise InsecureStart(
            f"DISTSYNC_DLQ_API_TOKEN is shorter than {MIN_TOKEN_CHARS} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    if settings.dlq_api_insecure_local:
        if host is not None and not is_loopback(host):
            raise InsecureStart(
                f"--insecure-local binds to loopback only (127.0.0.1, ::1), not {host!r}"
            )
        return
    if not token:
        raise InsecureStart(
            "the DLQ admin API needs DISTSYNC_DLQ_API_TOKEN (a bearer token every request "
            "must carry); on a laptop, `--insecure-local` runs it without one on 127.0.0.1"
        )
    if not settings.dlq_api_allowed_hosts:
        raise InsecureStart("DISTSYNC_DLQ_API_ALLOWED_HOSTS is empty: no request could pass")


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
