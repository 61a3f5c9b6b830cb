"""Who a request comes from, once its credentials were checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Identity:
    """`subject`: the token's `sub` or the API key's client; `client`: what throttling counts
    by (the token's `client_id`/`azp` when present, else the subject; the API key's client)."""

    subject: str
    client: str
    method: str  # "jwt", "api_key", "token" (the DLQ API's single shared token) or "open"
    scopes: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)

    def has(self, scope: str) -> bool:
        return self.method == "open" or scope in self.scopes

    @property
    def name(self) -> str:
        """How the audit log and the DLQ headers name this caller."""
        return f"{self.method}:{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "client": self.client,
            "method": self.method,
            "scopes": sorted(self.scopes),
            "roles": sorted(self.roles),
        }


OPEN = Identity(subject="anonymous", client="open", method="open")
