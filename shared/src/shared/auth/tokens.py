"""Bearer JWTs checked against the issuer's JWKS: fetched without blocking, cached, refetched
(at most every `jwks_refresh_min_s`) when a token names a key id not yet known (key rotation)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from shared.auth.errors import IssuerUnavailable, Unauthenticated
from shared.auth.settings import AuthSettings
from shared.logging import get_logger

log = get_logger("shared.auth")


@dataclass(frozen=True)
class _Key:
    key: Any  # a cryptography public key
    alg: str | None  # the JWK's own `alg`, when it names one


class Jwks:
    """The issuer's signing keys by `kid`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.url = settings.jwks_url
        self.keys: dict[str, _Key] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._lock = asyncio.Lock()

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> Any:
        r = await client.get(url)
        r.raise_for_status()
        return r.json()

    async def _discover(self, client: httpx.AsyncClient) -> str:
        issuer = (self.settings.issuer or "").rstrip("/")
        doc = await self._get_json(client, f"{issuer}/.well-known/openid-configuration")
        uri = doc.get("jwks_uri") if isinstance(doc, dict) else None
        if not isinstance(uri, str) or not uri:
            raise IssuerUnavailable(f"{issuer}: the OpenID configuration names no jwks_uri")
        return uri

    async def refresh(self) -> None:
        """Fetch the key set now; IssuerUnavailable when it cannot be read."""
        try:
            async with httpx.AsyncClient(timeout=self.settings.jwks_timeout_s) as client:
                if self.url is None:
                    self.url = await self._discover(client)
                doc = await self._get_json(client, self.url)
            keys: dict[str, _Key] = {}
            for raw in doc.get("keys", []) if isinstance(doc, dict) else []:
                if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                    continue
                try:
                    jwk = jwt.PyJWK.from_dict(raw)
                except jwt.PyJWTError:
                    continue  # a key type this library cannot use: skipped, as RFC 7517 allows
                keys[str(raw.get("kid", ""))] = _Key(jwk.key, raw.get("alg"))
        except (httpx.HTTPError, ValueError) as e:
            raise IssuerUnavailable(f"the issuer's keys cannot be fetched: {e}") from e
        self.keys, self.fetched_at = keys, time.monotonic()
        self.fetches += 1
        log.info("jwks_fetched", url=self.url, keys=len(keys))

    async def key(self, kid: str | None) -> _Key:
        now = time.monotonic()
        stale = self.fetched_at is None or now - self.fetched_at > self.settings.jwks_cache_s
        found = self._lookup(kid)
        if found is None or stale:
            may_refetch = (
                stale
                or self.fetched_at is None
                or now - self.fetched_at >= self.settings.jwks_refresh_min_s
            )
            if may_refetch:
                seen = self.fetched_at
                async with self._lock:
                    if self.fetched_at == seen:  # nobody refetched while we waited
                        try:
                            await self.refresh()
                        except IssuerUnavailable:
                            if found is None:
                                raise
                            log.warning("jwks_refresh_failed_using_cached", kid=kid)
                found = self._lookup(kid) or found
        if found is None:
            raise Unauthenticated(f"the token is signed with an unknown key ({kid!r})")
        return found

    def _lookup(self, kid: str | None) -> _Key | None:
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.jwks = Jwks(settings)

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, `iss`, `aud`, `exp` and `nbf` passed."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"malformed token: {e}") from e
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            raise Unauthenticated(f"tokens signed with {alg!r} are not accepted")
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        if key.alg is not None and key.alg != alg:
            raise Unauthenticated(f"key {kid!r} is for {key.alg}, the token says {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthenticated("the token has expired") from e
        except jwt.ImmatureSignatureError as e:
            raise Unauthenticated("the token is not valid yet (nbf)") from e
        except jwt.InvalidAudienceError as e:
            raise Unauthenticated("the token is for another audience") from e
        except jwt.InvalidIssuerError as e:
            raise Unauthenticated("the token is from another issuer") from e
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"invalid token: {e}") from e
        return claims
