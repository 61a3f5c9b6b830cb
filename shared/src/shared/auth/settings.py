"""`DISTSYNC_AUTH_*`: how the HTTP APIs authenticate, authorise, throttle and govern replay."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.auth.scopes import DEFAULT_ROLE_SCOPES

MODES = ("jwt", "api_keys", "jwt+api_keys", "open")
# asymmetric algorithms only: a public key can never be used as an HMAC secret, and `none` is out
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class Rate(BaseModel):
    rate: float = Field(gt=0, description="tokens added per second")
    burst: int = Field(ge=1, description="bucket size: requests allowed at once")


class AuthSettings(BaseSettings):
    """Read from the environment once per process. Nothing is checked here (a process that
    serves no HTTP needs none of it): `shared.auth.guard.Guard` refuses what is wrong."""

    model_config = SettingsConfigDict(env_prefix="DISTSYNC_AUTH_", extra="ignore")

    mode: str | None = None
    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None  # default: jwks_uri of <issuer>/.well-known/openid-configuration
    algorithms: Annotated[list[str], NoDecode] = ["RS256", "PS256", "ES256"]
    leeway_s: float = Field(default=30.0, ge=0, le=300)
    jwks_cache_s: float = Field(default=600.0, gt=0)  # refetched this often at most
    jwks_refresh_min_s: float = Field(default=30.0, ge=0)  # an unknown kid refetches this rarely
    jwks_timeout_s: float = Field(default=5.0, gt=0)
    api_keys_file: str | None = None
    # claims: scopes from `scope` (space-separated) and `scp` (list or string); roles from the
    # claim at this dot path (`realm_access.roles`, `groups`), mapped through role_scopes
    roles_claim: str = "roles"
    role_scopes: dict[str, list[str]] = DEFAULT_ROLE_SCOPES
    approver_role: str = "dlq-approver"
    # throttling per client and route group (the route's scope): default, and per group
    throttle_rate: float = Field(default=20.0, gt=0)
    throttle_burst: int = Field(default=40, ge=1)
    throttle_groups: dict[str, Rate] = {}
    # DLQ admin API: replay/purge of more than this many messages of these services needs a
    # second person (dlq:approve); a pending request expires after approval_ttl_s
    approval_threshold: int = Field(default=100, ge=0)
    approval_services: Annotated[list[str], NoDecode] = ["availability", "receipt", "returns"]
    approval_ttl_s: float = Field(default=86400.0, gt=0)

    @field_validator("algorithms", "approval_services", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    def rate_for(self, group: str) -> Rate:
        return self.throttle_groups.get(group) or Rate(
            rate=self.throttle_rate, burst=self.throttle_burst
        )
