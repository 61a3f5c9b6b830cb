"""Why a request or a configuration is refused."""

from __future__ import annotations


class AuthConfigError(Exception):
    """Authentication is configured wrongly (or not at all): the process must not start."""


class Unauthenticated(Exception):
    """No credentials, or credentials that do not prove who the caller is (401)."""

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error  # RFC 6750 error code; None when no credentials were sent


class IssuerUnavailable(Exception):
    """The token issuer's keys cannot be fetched, and none cached fits the token (503)."""
