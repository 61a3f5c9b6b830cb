"""What an operation reports while it runs (`Progress`) and once it has ended (`Outcome`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """What an operation did; the CLI and the HTTP API print it, the audit log keeps it."""

    action: str
    queue: str
    selector: dict[str, Any]
    user: str
    dry_run: bool = False
    scanned: int = 0
    depth: int = 0
    matched: int = 0
    done: int = 0
    skipped_flagged: int = 0
    skipped_beyond_horizon: int = 0  # older than the services' deduplication horizon
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    plan: Counter[str] = field(default_factory=Counter)
    archive_id: str | None = None
    file: str | None = None
    target: str | None = None
    cancelled: bool = False
    renewed: int = 0
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0

    def error(self, text: str) -> None:
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(text)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("started", "plan")}
        d["plan"] = dict(self.plan)
        d["rate_per_s"] = round(self.rate, 1)
        d["elapsed_s"] = round(self.elapsed_s, 3)
        return d


Progress = Callable[[Outcome], None]
