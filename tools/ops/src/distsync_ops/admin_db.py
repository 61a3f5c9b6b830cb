"""The admin database (`DISTSYNC_ADMIN_DB`) the DLQ admin API keeps its audit log and approval
requests in: one client per app, made on first use (in the event loop that serves)."""

from __future__ import annotations

from typing import Any

from distsync_ops import dlq as D
from distsync_ops.approvals import Approvals
from shared.auth.audit import AuditLog


class AdminDb:
    def __init__(self, settings: D.DlqSettings) -> None:
        self.settings = settings
        self._admin: D.Admin | None = None
        self._audit: AuditLog | None = None
        self._approvals: Approvals | None = None

    def _db(self) -> Any:
        if self._admin is None:
            self._admin = D.Admin(self.settings)
        return self._admin.db

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(self._db())
        return self._audit

    @property
    def approvals(self) -> Approvals:
        if self._approvals is None:
            self._approvals = Approvals(self._db())
        return self._approvals

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
