"""`distsync reconcile orders`: an old system's order statuses against distsync's canonical ones.

The export has `order_id` and `status` (the old system's own code), and optionally `as_of`.
A mapping file turns each code into a canonical status of contract §6.1, or into `null` for a
code that is no milestone (the row is then skipped). Codes are compared without regard to
case or separators, as order-status compares native codes. distsync's status as of the
export's time is the last milestone it had reached by then (each milestone keeps its event
time); an export without `as_of` is compared with the current status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from distsync_ops.reconcile import store
from distsync_ops.reconcile.quantities import iso, ms, parse_time
from distsync_ops.reconcile.rows import BadRow, InputError, Progress, records, text_field
from distsync_ops.reconcile.tally import MAX_BAD_KEPT

STATUSES = (
    "received",
    "credit_approved",
    "partially_allocated",
    "allocated",
    "backordered",
    "picked",
    "packed",
    "partially_shipped",
    "shipped",
    "delivered",
    "exception",
    "returned",
    "cancelled",
)
RANK = {
    "received": 0,
    "credit_approved": 1,
    "partially_allocated": 2,
    "backordered": 2,
    "allocated": 2,
    "picked": 3,
    "packed": 4,
    "partially_shipped": 5,
    "shipped": 6,
    "delivered": 7,
}
REQUIRED = ("order_id", "status")
BATCH = 1_000
MAX_LISTED = 10_000  # disagreements kept for the report; beyond, only counted


def code(native: str) -> str:
    """A native status code as order-status compares them (§6.1)."""
    return re.sub(r"[\s_\-]+", "", native).lower()


def load_mapping(path: Path) -> dict[str, str | None]:
    """`{"<native code>": "<canonical status>" | null}`; InputError for anything else."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read the mapping {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise InputError(f"the mapping {path} is not JSON: {e}") from e
    if not isinstance(raw, dict) or not raw:
        raise InputError("the mapping must be a JSON object of native code -> canonical status")
    out: dict[str, str | None] = {}
    for native, status in raw.items():
        if status is not None and status not in STATUSES:
            raise InputError(
                f"the mapping sends {native!r} to {status!r}, which is not a canonical status "
                f"({', '.join(STATUSES)})"
            )
        out[code(str(native))] = status
    return out


@dataclass(slots=True)
class Disagreement:
    order_id: str
    line: int
    native_status: str
    expected: str  # the old system's status, mapped
    distsync: str | None  # distsync's status at as_of; None when unknown to it then
    kind: str  # missing | distsync_behind | distsync_ahead | different
    milestone: str  # the milestone on which they disagree
    as_of: datetime | None
    distsync_reached_at: datetime | None = None  # when distsync reached `expected`, if ever

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "line": self.line,
            "native_status": self.native_status,
            "expected_status": self.expected,
            "distsync_status": self.distsync,
            "kind": self.kind,
            "milestone": self.milestone,
            "as_of": iso(self.as_of),
            "distsync_reached_expected_at": iso(self.distsync_reached_at),
        }


@dataclass
class OrdersResult:
    rows: int = 0
    compared: int = 0
    agree: int = 0
    skipped: int = 0  # codes mapped to null
    disagree_count: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_milestone: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    bad_count: int = 0
    bad: list[BadRow] = field(default_factory=list)
    tolerance: int = 0

    def ok(self) -> bool:
        return self.disagree_count <= self.tolerance

    def add_bad(self, b: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_KEPT:
            self.bad.append(b)

    def add(self, d: Disagreement) -> None:
        self.disagree_count += 1
        self.by_kind[d.kind] = self.by_kind.get(d.kind, 0) + 1
        self.by_milestone[d.milestone] = self.by_milestone.get(d.milestone, 0) + 1
        if len(self.disagreements) < MAX_LISTED:
            self.disagreements.append(d)


def judge(
    order_id: str,
    line: int,
    native: str,
    expected: str,
    state: store.OrderState | None,
    as_of: datetime | None,
) -> Disagreement | None:
    """None when distsync's status at `as_of` is the expected one; else how they differ."""
    reached = state.milestones if state is not None else ()
    if as_of is not None:
        reached = tuple(m for m in reached if ms(m[1]) <= as_of)
    if state is None or not reached:
        return Disagreement(order_id, line, native, expected, None, "missing", expected, as_of)
    actual = reached[-1][0] if as_of is not None else state.status
    if actual == expected:
        return None
    when = next((at for s, at in reached if s == expected), None)
    if expected in RANK and actual in RANK and RANK[expected] != RANK[actual]:
        behind = RANK[expected] > RANK[actual]
        kind = "distsync_behind" if behind else "distsync_ahead"
        milestone = expected if behind else actual
    else:
        kind, milestone = "different", expected if when is None else actual
    return Disagreement(order_id, line, native, expected, actual, kind, milestone, as_of, when)


async def reconcile_orders(
    path: Path,
    db: Any,
    mapping: dict[str, str | None],
    *,
    as_of: datetime | None,
    tolerance: int = 0,
    progress: bool = False,
) -> OrdersResult:
    res = OrdersResult(tolerance=tolerance)
    batch: list[tuple[int, str, str, str, datetime | None]] = []

    async def flush() -> None:
        found = await store.orders_by_id(db, sorted({b[1] for b in batch}))
        for line, oid, native, expected, at in batch:
            res.compared += 1
            d = judge(oid, line, native, expected, found.get(oid), at)
            if d is None:
                res.agree += 1
            else:
                res.add(d)
        batch.clear()

    prog = Progress(progress, f"reading {path.name}")
    for got in records(path, REQUIRED, prog):
        if isinstance(got, BadRow):
            res.add_bad(got)
            continue
        line, rec = got
        res.rows += 1
        try:
            oid = text_field(rec, "order_id", required=True)
            native = text_field(rec, "status", required=True)
            raw_at = rec.get("as_of")
            at = parse_time(raw_at) if isinstance(raw_at, str) and raw_at.strip() else as_of
        except ValueError as e:
            res.add_bad(BadRow(line, str(e)))
            continue
        assert oid is not None and native is not None
        if code(native) not in mapping:
            res.add_bad(BadRow(line, f"status {native!r} is not in the mapping"))
            continue
        expected = mapping[code(native)]
        if expected is None:
            res.skipped += 1
            continue
        batch.append((line, oid, native, expected, at))
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    return res


def orders_summary(r: OrdersResult, *, export: str) -> dict[str, Any]:
    return {
        "kind": "orders",
        "ok": r.ok(),
        "export": export,
        "rows": r.rows,
        "bad_rows": r.bad_count,
        "compared": r.compared,
        "agree": r.agree,
        "skipped": r.skipped,
        "out_of_step": r.disagree_count,
        "tolerance": r.tolerance,
        "by_kind": dict(sorted(r.by_kind.items())),
        "by_milestone": dict(sorted(r.by_milestone.items())),
        "disagreements": [d.to_dict() for d in r.disagreements],
        "bad": [b.to_dict() for b in r.bad],
    }


def orders_text(r: OrdersResult) -> str:
    verdict = "within tolerance" if r.ok() else "BEYOND TOLERANCE"
    lines = [
        f"{r.rows:,} rows, {r.compared:,} orders compared, {r.agree:,} agree, "
        f"{r.disagree_count:,} out of step, {r.skipped:,} skipped (no milestone), "
        f"{r.bad_count:,} bad rows: {verdict}"
    ]
    if r.by_milestone:
        lines += ["", "out of step by milestone:"]
        lines += [f"  {m}: {n:,}" for m, n in sorted(r.by_milestone.items(), key=lambda x: -x[1])]
    if r.disagreements:
        lines += ["", "order_id  line  old status -> expected  distsync  kind  milestone"]
        for d in r.disagreements[:200]:
            lines.append(
                f"{d.order_id}  {d.line}  {d.native_status} -> {d.expected}  "
                f"{d.distsync or '-'}  {d.kind}  {d.milestone}"
            )
        if r.disagree_count > 200:
            lines.append(f"... {r.disagree_count - 200:,} more (--json or --csv for all kept)")
    if r.bad:
        lines += ["", f"bad rows ({r.bad_count:,}; first {len(r.bad):,} shown):"]
        lines += [f"  line {b.line}: {b.reason}" for b in r.bad]
    return "\n".join(lines)
