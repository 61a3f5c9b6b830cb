"""The scopes routes require, and the default table from token roles to scopes."""

from __future__ import annotations

# what each service's read API requires unless its ServiceDefinition says otherwise
SERVICE_READ_SCOPES: dict[str, str] = {
    "availability": "availability:read",
    "order-status": "orders:read",
    "receipt": "receipts:read",
    "returns": "returns:read",
    "carrier-tracking": "shipments:read",
}

DLQ_READ = "dlq:read"
DLQ_REPLAY = "dlq:replay"
DLQ_PURGE = "dlq:purge"
DLQ_APPROVE = "dlq:approve"
AUDIT_READ = "audit:read"

ALL_SCOPES: tuple[str, ...] = (
    *SERVICE_READ_SCOPES.values(),
    DLQ_READ,
    DLQ_REPLAY,
    DLQ_PURGE,
    DLQ_APPROVE,
    AUDIT_READ,
)

# roles (read from the token's role claim) and the scopes they grant; DISTSYNC_AUTH_ROLE_SCOPES
# replaces this table, DISTSYNC_AUTH_APPROVER_ROLE renames the approver role
DEFAULT_ROLE_SCOPES: dict[str, list[str]] = {
    "reader": list(SERVICE_READ_SCOPES.values()),
    "dlq-operator": [DLQ_READ, DLQ_REPLAY, DLQ_PURGE],
    "dlq-approver": [DLQ_READ, DLQ_APPROVE],
    "auditor": [AUDIT_READ, DLQ_READ],
}


def read_scope(service: str, declared: str | None = None) -> str:
    """The scope a service's read API requires: declared, from the table, or `<name>:read`."""
    return declared or SERVICE_READ_SCOPES.get(service) or f"{service}:read"
