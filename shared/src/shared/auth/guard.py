"""One place that decides who a request comes from and whether it may go on.

`Guard(settings, service)` never raises: a configuration it refuses is kept in `problem`, and
`check()` raises it; the runtime and the DLQ API call `check()` before they serve, so a process
with authentication missing or wrong does not start. Requests through an app whose guard is
misconfigured are refused (503), never let through.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from shared.auth import apikeys, claims
from shared.auth.errors import AuthConfigError, IssuerUnavailable, Unauthenticated
from shared.auth.identity import OPEN, Identity
from shared.auth.settings import ASYMMETRIC, MODES, AuthSettings
from shared.auth.throttle import AUTH_FAILURES, Throttle, retry_after
from shared.auth.tokens import TokenVerifier
from shared.logging import get_logger

log = get_logger("shared.auth")

Dependency = Callable[[Request], Awaitable[Identity]]


def _quoted(text: str) -> str:
    """Safe inside a quoted header value: printable ASCII, no quotes or backslashes."""
    kept = (c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)
    return "".join(kept)[:200]


def challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    """A `WWW-Authenticate: Bearer` value with RFC 6750 error attributes."""
    if error is None:
        return "Bearer"
    parts = [f'error="{error}"']
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


class Guard:
    def __init__(
        self,
        settings: AuthSettings,
        service: str,
        *,
        static_tokens: dict[str, Identity] | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.mode = settings.mode
        self.problem: str | None = None
        self.verifier: TokenVerifier | None = None
        self.keys: apikeys.ApiKeys | None = None
        # bearer tokens compared as they are (the DLQ API's single-token mode)
        self.static_tokens = static_tokens or {}
        try:
            self._configure()
        except AuthConfigError as e:
            self.problem = str(e)
        clients = tuple(self.keys.clients) if self.keys else ()
        self.throttle = Throttle(settings, service, known_clients=clients)

    def _configure(self) -> None:
        s, mode = self.settings, self.mode
        if mode is None:
            if self.static_tokens:
                return
            raise AuthConfigError(
                "DISTSYNC_AUTH_MODE is not set: set it to jwt, api_keys or jwt+api_keys (see "
                "docs/security.md); `open` turns authentication off, for a laptop run only"
            )
        if mode not in MODES:
            raise AuthConfigError(f"DISTSYNC_AUTH_MODE={mode!r}: one of {', '.join(MODES)}")
        if mode in ("jwt", "jwt+api_keys"):
            missing = [n for n in ("issuer", "audience") if not getattr(s, n)]
            if missing:
                names = ", ".join(f"DISTSYNC_AUTH_{n.upper()}" for n in missing)
                raise AuthConfigError(f"DISTSYNC_AUTH_MODE={mode} needs {names}")
            bad = [a for a in s.algorithms if a not in ASYMMETRIC]
            if bad or not s.algorithms:
                raise AuthConfigError(
                    f"DISTSYNC_AUTH_ALGORITHMS: only {', '.join(ASYMMETRIC)} are accepted "
                    f"(not {', '.join(bad) or 'an empty list'})"
                )
            self.verifier = TokenVerifier(s)
        if mode in ("api_keys", "jwt+api_keys"):
            if not s.api_keys_file:
                raise AuthConfigError(
                    f"DISTSYNC_AUTH_MODE={mode} needs DISTSYNC_AUTH_API_KEYS_FILE"
                )
            self.keys = apikeys.ApiKeys.from_file(s.api_keys_file)

    @property
    def is_open(self) -> bool:
        return self.problem is None and self.mode == "open"

    def check(self) -> None:
        """Raises AuthConfigError when this process must not serve; warns loudly when open."""
        if self.problem is not None:
            raise AuthConfigError(self.problem)
        if self.is_open:
            log.warning(
                "AUTHENTICATION_IS_OFF",
                service=self.service,
                detail="DISTSYNC_AUTH_MODE=open: anyone who reaches this port may use the API. "
                "For a laptop run only; never deploy like this.",
            )
        else:
            log.info("authentication_on", service=self.service, mode=self.mode or "token")

    async def warm_up(self) -> None:
        """Fetch the issuer's keys once at start; a failure is logged, and retried per request."""
        if self.verifier is None:
            return
        try:
            await self.verifier.jwks.refresh()
        except IssuerUnavailable as e:
            log.warning("jwks_unavailable_at_start", service=self.service, error=str(e))

    async def identify(self, request: Request) -> Identity:
        """The caller, or HTTPException 401 (503 when the issuer cannot be reached)."""
        if self.problem is not None:
            raise HTTPException(503, detail=f"authentication is not configured: {self.problem}")
        if self.mode == "open":
            return OPEN
        try:
            return await self._identify(request)
        except Unauthenticated as e:
            AUTH_FAILURES.labels(self.service, "unauthenticated").inc()
            raise HTTPException(
                401, detail=e.detail, headers={"WWW-Authenticate": challenge(e.error, e.detail)}
            ) from e
        except IssuerUnavailable as e:
            AUTH_FAILURES.labels(self.service, "unavailable").inc()
            raise HTTPException(503, detail=str(e), headers={"Retry-After": "5"}) from e

    async def _identify(self, request: Request) -> Identity:
        key = request.headers.get(apikeys.HEADER)
        if key is not None:
            if self.keys is None:
                raise Unauthenticated("API keys are not accepted here", error="invalid_request")
            found = self.keys.identify(key)
            if found is None:
                raise Unauthenticated("unknown API key")
            return found
        header = request.headers.get("authorization")
        if not header:
            accepted = "a bearer token" if self.keys is None else "a bearer token or X-API-Key"
            raise Unauthenticated(f"credentials needed: {accepted}", error=None)
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("Authorization must be `Bearer <token>`", error="invalid_request")
        for token, who in self.static_tokens.items():
            if hmac.compare_digest(credential.encode(), token.encode()):
                return who
        if self.verifier is None:
            raise Unauthenticated("missing or wrong bearer token")
        return claims.identity(await self.verifier.verify(credential), self.settings)

    def require(self, scope: str) -> Dependency:
        """A FastAPI dependency: the caller, who must hold `scope` and not be over its rate."""

        async def authorised(request: Request) -> Identity:
            who = await self.identify(request)
            if not who.has(scope):
                AUTH_FAILURES.labels(self.service, "forbidden").inc()
                detail = f"the {scope} scope is needed, and {who.subject} does not have it"
                raise HTTPException(
                    403,
                    detail=detail,
                    headers={"WWW-Authenticate": challenge("insufficient_scope", detail, scope)},
                )
            if who.method != "open":
                wait = self.throttle.take(who.client, scope)
                if wait is not None:
                    raise HTTPException(
                        429,
                        detail=f"too many requests from {who.client} for {scope}: slow down",
                        headers={"Retry-After": retry_after(wait)},
                    )
            request.state.identity = who
            return who

        return authorised
