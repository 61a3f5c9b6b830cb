"""Which messages an operation acts on, in which queue, and on whose behalf."""

from __future__ import annotations

import contextlib
import fnmatch
import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distsync_ops.dlq.message import DeadLetter
from distsync_ops.dlq.values import iso
from shared.topology import UNROUTED, dlq


@dataclass(frozen=True)
class Selector:
    """Which messages an operation acts on; empty means all of them."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # exact or glob (`order.*`)
    groups: tuple[str, ...] = ()  # group id (`g1a2b3c4`) or key `Exception|type|service`
    since: datetime | None = None  # last failure at or after
    until: datetime | None = None  # last failure before
    limit: int | None = None  # at most this many (in queue order)

    @property
    def is_all(self) -> bool:
        return not (self.ids or self.types or self.groups or self.since or self.until)

    def matches(self, m: DeadLetter) -> bool:
        if (
            self.ids
            and m.event_id not in self.ids
            and m.properties.get("message_id") not in self.ids
        ):
            return False
        if self.types and not any(fnmatch.fnmatchcase(m.event_type, t) for t in self.types):
            return False
        if self.groups and m.group not in self.groups and m.group_key not in self.groups:
            return False
        if self.since or self.until:
            t = m.last_failure
            if t is None or (self.since and t < self.since) or (self.until and t >= self.until):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k in ("ids", "types", "groups"):
            if getattr(self, k):
                d[k] = list(getattr(self, k))
        if self.since:
            d["since"] = iso(self.since)
        if self.until:
            d["until"] = iso(self.until)
        if self.limit is not None:
            d["limit"] = self.limit
        return d or {"all": True}


def queue_of(target: str) -> str:
    """`availability` -> `availability.dlq`; `unrouted` stays; a full queue name is kept."""
    if target == UNROUTED or target.endswith(".dlq"):
        return target
    return dlq(target)


def known_targets() -> list[str]:
    from shared.topology import all_services

    return [s.name for s in all_services()] + [UNROUTED]


def who(user: str | None = None) -> str:
    if user:
        return user
    with contextlib.suppress(Exception):
        return os.environ.get("USER") or getpass.getuser()
    return "unknown"
