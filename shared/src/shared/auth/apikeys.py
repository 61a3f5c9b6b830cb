"""Static API keys for systems that cannot get tokens, kept as SHA-256 digests.

A key is a long random string (32 random bytes or more), not a password a person chose: nobody
can guess it or look it up in a list, so a salted slow hash would add nothing but work per
request. The file holds only digests, so reading it does not give the keys away.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path

from shared.auth.errors import AuthConfigError
from shared.auth.identity import Identity

HEADER = "X-API-Key"
MIN_KEY_CHARS = 24
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ApiKey:
    client: str
    digest: bytes
    scopes: frozenset[str]


def digest(key: str) -> str:
    """The hex SHA-256 the keys file stores for `key`."""
    return hashlib.sha256(key.encode()).hexdigest()


def load(path: str) -> list[ApiKey]:
    """The keys file: a JSON list of {"client", "sha256", "scopes"}; AuthConfigError if not."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AuthConfigError(f"DISTSYNC_AUTH_API_KEYS_FILE {path!r} is unreadable: {e}") from e
    if not isinstance(doc, list):
        raise AuthConfigError(f"DISTSYNC_AUTH_API_KEYS_FILE {path!r}: a JSON list is needed")
    keys: list[ApiKey] = []
    for i, entry in enumerate(doc):
        where = f"DISTSYNC_AUTH_API_KEYS_FILE {path!r}, entry {i}"
        if not isinstance(entry, dict):
            raise AuthConfigError(f"{where}: an object is needed")
        client, sha, scopes = entry.get("client"), entry.get("sha256"), entry.get("scopes")
        if not isinstance(client, str) or not client:
            raise AuthConfigError(f"{where}: `client` must be a non-empty string")
        if not isinstance(sha, str) or not _HEX64.match(sha.lower()):
            raise AuthConfigError(f"{where}: `sha256` must be 64 hex digits")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise AuthConfigError(f"{where}: `scopes` must be a list of strings")
        keys.append(ApiKey(client, bytes.fromhex(sha), frozenset(scopes)))
    clients = [k.client for k in keys]
    if len(set(clients)) != len(clients):
        raise AuthConfigError(f"DISTSYNC_AUTH_API_KEYS_FILE {path!r}: a client is listed twice")
    return keys


class ApiKeys:
    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @classmethod
    def from_file(cls, path: str) -> ApiKeys:
        return cls(load(path))

    def identify(self, key: str) -> Identity | None:
        """The identity of a key, or None; compared in constant time against every entry."""
        d = hashlib.sha256(key.encode()).digest()
        found: ApiKey | None = None
        for k in self.keys:
            if hmac.compare_digest(k.digest, d):
                found = k
        if found is None:
            return None
        return Identity(found.client, found.client, "api_key", found.scopes)

    @property
    def clients(self) -> list[str]:
        return [k.client for k in self.keys]
