"""Who may call the HTTP APIs: authentication (bearer JWTs, API keys), scopes, throttling.

By concern: `settings` (`DISTSYNC_AUTH_*`), `scopes` (the default table), `tokens` (JWT and
JWKS), `apikeys`, `claims` (claims to an identity), `throttle`, `guard` (the FastAPI dependency
that puts them together), `apply` (a guard on a router, and the OpenAPI document), `audit` (the
audit log in MongoDB). See docs/security.md.
"""

from __future__ import annotations

from shared.auth.apply import declare_schemes, own_authentication, requires, secure_router
from shared.auth.errors import AuthConfigError
from shared.auth.guard import Guard
from shared.auth.identity import OPEN, Identity
from shared.auth.scopes import read_scope
from shared.auth.settings import AuthSettings

__all__ = [
    "OPEN",
    "AuthConfigError",
    "AuthSettings",
    "Guard",
    "Identity",
    "declare_schemes",
    "own_authentication",
    "read_scope",
    "requires",
    "secure_router",
]
