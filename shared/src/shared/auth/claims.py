"""From a validated token's claims to an identity: scopes from `scope`/`scp`, roles mapped."""

from __future__ import annotations

from typing import Any

from shared.auth.errors import Unauthenticated
from shared.auth.identity import Identity
from shared.auth.scopes import DLQ_APPROVE
from shared.auth.settings import AuthSettings


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def at_path(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dot path (`realm_access.roles`); a claim named with dots wins."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def identity(claims: dict[str, Any], settings: AuthSettings) -> Identity:
    subject = claims.get("sub") or claims.get("client_id") or claims.get("azp")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("the token names no subject (sub, client_id or azp)")
    scopes = set(_strings(claims.get("scope"))) | set(_strings(claims.get("scp")))
    roles = set(_strings(at_path(claims, settings.roles_claim)))
    for role in roles:
        scopes.update(settings.role_scopes.get(role, ()))
    if settings.approver_role in roles:
        scopes.add(DLQ_APPROVE)
    return Identity(subject, subject, "jwt", frozenset(scopes), frozenset(roles))
