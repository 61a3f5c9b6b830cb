"""How a carrier proves a push is its own, configured per carrier; secrets compared in
constant time.

Schemes:
- `signature` (the default): `X-Distsync-Signature: sha256=<hex HMAC-SHA256 of the body>`.
- `hmac`: an HMAC-SHA256 of the raw body under the carrier's secret, in a header the carrier
  names, `hex` or `base64` encoded, after an optional prefix (FedEx Advanced Integrated
  Visibility: `fdx-signature`, base64).
- `credential`: a shared credential chosen when subscribing, sent unchanged in a header the
  carrier names, after an optional prefix such as `Bearer ` (UPS Track Alert's
  `credentialType` and `credential`).

The secret or credential itself is `DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS[carrier]`; the
scheme is `DISTSYNC_CARRIER_TRACKING_WEBHOOK_AUTH[carrier]` (no secrets in it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SIGNATURE_HEADER = "X-Distsync-Signature"

Problem = Literal["missing", "malformed", "invalid"]
SignatureProblem = Problem


class WebhookAuth(BaseModel):
    """One carrier's push authentication (the value of one key of the AUTH variable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Literal["signature", "hmac", "credential"] = "signature"
    header: str | None = Field(default=None, min_length=1, max_length=100)
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=40)

    @model_validator(mode="after")
    def _header_named(self) -> WebhookAuth:
        if self.scheme != "signature" and not self.header:
            raise ValueError(f"scheme {self.scheme} needs the header the carrier sends")
        return self

    @property
    def header_name(self) -> str:
        return self.header or SIGNATURE_HEADER

    def expected(self) -> str:
        """How the header should look, for a 401's message (never the secret)."""
        if self.scheme == "signature":
            return "sha256=<hex HMAC>"
        if self.scheme == "hmac":
            return f"{self.prefix}<{self.encoding} HMAC-SHA256 of the body>"
        return f"{self.prefix}<the credential chosen at subscription>"


DEFAULT_AUTH = WebhookAuth()


def sign(secret: str, body: bytes) -> str:
    """The header value a carrier (or a test) sends: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + _mac(secret, body).hex()


def sign_as(auth: WebhookAuth, secret: str, body: bytes) -> str:
    """The header value `auth` expects for `body` (for tests and carriers' simulators)."""
    if auth.scheme == "signature":
        return sign(secret, body)
    if auth.scheme == "credential":
        return auth.prefix + secret
    digest = _mac(secret, body)
    encoded = base64.b64encode(digest).decode() if auth.encoding == "base64" else digest.hex()
    return auth.prefix + encoded


def check_signature(secret: str, body: bytes, header: str | None) -> Problem | None:
    """None when the header is the body's HMAC under `secret`; compared in constant time."""
    if not header or not header.strip():
        return "missing"
    scheme, sep, digest = header.strip().partition("=")
    if not sep or scheme.strip().lower() != "sha256" or not digest:
        return "malformed"
    expected = _mac(secret, body).hex()
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8")):
        return "invalid"
    return None


def check(
    auth: WebhookAuth, secret: str, body: bytes, headers: Mapping[str, str]
) -> Problem | None:
    """None when the push carries what `auth` asks for; else what is wrong with it."""
    value = headers.get(auth.header_name)
    if auth.scheme == "signature":
        return check_signature(secret, body, value)
    if value is None or not value.strip():
        return "missing"
    value = value.strip()
    if auth.prefix:
        if not value.lower().startswith(auth.prefix.lower()):
            return "malformed"
        value = value[len(auth.prefix) :].strip()
    if not value:
        return "malformed"
    if auth.scheme == "credential":
        return None if _same(value.encode("utf-8"), secret.encode("utf-8")) else "invalid"
    return _check_hmac(auth, secret, body, value)


def _check_hmac(auth: WebhookAuth, secret: str, body: bytes, value: str) -> Problem | None:
    expected = _mac(secret, body)
    if auth.encoding == "hex":
        try:
            given = bytes.fromhex(value)
        except ValueError:
            return "malformed"
    else:
        try:
            given = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return "malformed"
    return None if hmac.compare_digest(expected, given) else "invalid"


def _mac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def _same(a: bytes, b: bytes) -> bool:
    """Constant time whatever the lengths: compare digests, not the values."""
    return hmac.compare_digest(hashlib.sha256(a).digest(), hashlib.sha256(b).digest())
