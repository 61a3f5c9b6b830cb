"""The request bodies of the DLQ admin API."""

from __future__ import annotations

from dataclasses import replace

from fastapi import HTTPException
from pydantic import BaseModel, Field

from distsync_ops import dlq as D


class SelectorIn(BaseModel):
    ids: list[str] = []
    types: list[str] = []
    groups: list[str] = []
    since: str | None = Field(None, description="ISO 8601 time or an age like 2h")
    until: str | None = None
    limit: int | None = Field(None, gt=0)
    all: bool = Field(False, description="required to act on every message (no selector)")
    user: str | None = Field(
        None,
        description="who asks, for the audit log: used only when the API runs open or with "
        "its single shared token; an authenticated caller is named by its credentials",
    )

    def selector(self) -> D.Selector:
        try:
            since = D.parse_time(self.since) if self.since else None
            until = D.parse_time(self.until) if self.until else None
        except ValueError as e:
            raise HTTPException(422, detail=str(e)) from e
        return D.Selector(
            tuple(self.ids), tuple(self.types), tuple(self.groups), since, until, self.limit
        )

    def checked(self, harmless: bool) -> D.Selector:
        """The selector; 422 for an empty one that would act on everything without `all`."""
        sel = self.selector()
        if sel.is_all and sel.limit is None and not self.all and not harmless:
            raise HTTPException(422, detail='no selector: send "all": true to act on every message')
        return sel


class ReplayIn(SelectorIn):
    to: str | None = Field(None, description="publish to this exchange instead")
    direct: bool = Field(False, description="straight to the service's own queue")
    rate: float | None = Field(None, gt=0, description="messages per second")
    dry_run: bool = False
    force: bool = Field(False, description="also replay flagged messages")

    def options(self) -> D.ReplayOptions:
        return D.ReplayOptions(self.to, self.direct, self.rate, self.dry_run, self.force)


class RestoreIn(BaseModel):
    archive: str = Field(description="archive id from archive/purge")
    force: bool = False
    user: str | None = None


class DecisionIn(BaseModel):
    user: str | None = Field(None, description="who decides (open or shared-token mode only)")
    note: str | None = Field(None, max_length=500, description="why, for the audit log")


def capped(sel: D.Selector, count: int) -> D.Selector:
    """The selector of an approved request: never more than the count that was approved."""
    return replace(sel, limit=min(sel.limit or count, count))
