"""The ground truth as another system would export it: a stock snapshot (CSV `sku,location,
qty,uom,as_of`) of every position's on-hand at the end of the run, with drift injected on
purpose, and the check that `distsync reconcile stock` finds exactly that drift.

Drift comes in three kinds, chosen with the run's seed: `changed` (the snapshot's quantity is
off by a few units), `dropped` (the position is missing from a snapshot that is complete for
its locations, so the snapshot says 0) and `phantom` (a SKU distsync never saw). A position
whose true on-hand is negative (summed buckets are never clamped, contract §5) cannot be
written as a snapshot quantity; it is left out and expected as a variance of its own.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from distsync_sim.simulate.truth import Truth

KINDS = ("changed", "dropped", "phantom")
# millionths of a base unit two exact-to-the-millionth figures may differ by (availability
# rounds each converted movement to the millionth; the truth is exact)
SLACK = 2


@dataclass(frozen=True)
class Drift:
    sku: str
    location: str
    kind: str  # changed | dropped | phantom | negative_in_truth
    snapshot: Fraction
    truth: Fraction

    @property
    def variance(self) -> Fraction:
        return self.snapshot - self.truth

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "location": self.location,
            "kind": self.kind,
            "snapshot_qty": decimal_text(self.snapshot),
            "truth_qty": decimal_text(self.truth),
            "variance": decimal_text(self.variance),
        }


def decimal_text(q: Fraction) -> str:
    """A quantity in base units, to the millionth availability keeps."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = (Decimal(q.numerator) / Decimal(q.denominator)).quantize(Decimal("0.000001"))
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def write_snapshot(
    truth: Truth, path: Path, *, as_of: datetime, drift: int, seed: int, sku_prefix: str = ""
) -> list[Drift]:
    """Write the snapshot; returns every variance it carries on purpose (and the negatives)."""
    rng = random.Random(seed)
    keys = sorted(truth.positions)
    candidates = [k for k in keys if truth.positions[k].on_hand > 0]
    chosen = rng.sample(candidates, min(drift, len(candidates)))
    kinds = {k: KINDS[i % len(KINDS)] for i, k in enumerate(chosen)}
    expected: list[Drift] = []
    stamp = as_of.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "location", "qty", "uom", "as_of"])
        for sku, loc in keys:
            qty = truth.positions[(sku, loc)].on_hand
            if qty < 0:
                expected.append(Drift(sku, loc, "negative_in_truth", Fraction(0), qty))
                continue
            kind = kinds.get((sku, loc))
            if kind == "dropped":
                expected.append(Drift(sku, loc, kind, Fraction(0), qty))
                continue
            if kind == "changed":
                delta = rng.choice([-1, 1]) * rng.randint(1, 5)
                off = max(Fraction(0), qty + delta)
                if off == qty:
                    off = qty + 1
                expected.append(Drift(sku, loc, kind, off, qty))
                qty = off
            if kind == "phantom":  # the position stays as it is; a SKU nobody knows joins it
                ghost = f"{sku_prefix}PHANTOM-{len(expected)}"
                extra = Fraction(rng.randint(1, 9))
                expected.append(Drift(ghost, loc, kind, extra, Fraction(0)))
                w.writerow([ghost, loc, decimal_text(extra), "", stamp])
            w.writerow([sku, loc, decimal_text(qty), "", stamp])
    return expected


async def check_snapshot(
    path: Path,
    expected: list[Drift],
    db: Any,
    *,
    as_of: datetime,
    sku_prefix: str,
) -> dict[str, Any]:
    """Run the reconciliation on the snapshot; it must find exactly `expected`, no more."""
    from distsync_ops.reconcile.quantities import MICRO, units
    from distsync_ops.reconcile.stock import StockOptions, reconcile_stock

    found: dict[tuple[str, str], int | None] = {}

    def on_key(r: Any) -> None:
        if r.variance is None or abs(r.variance) > SLACK:
            found[(r.sku, r.location)] = r.variance

    tally = await reconcile_stock(
        path, db, StockOptions(as_of=as_of, sku_prefix=sku_prefix, top=0), on_key=on_key
    )
    want = {(d.sku, d.location): round(d.variance * MICRO) for d in expected}
    missing = sorted(f"{s} at {loc}" for (s, loc) in want.keys() - found.keys())
    invented = sorted(f"{s} at {loc}" for (s, loc) in found.keys() - want.keys())
    wrong = sorted(
        f"{s} at {loc}: expected {units(want[(s, loc)])}, found "
        f"{'n/a' if found[(s, loc)] is None else units(found[(s, loc)] or 0)}"
        for (s, loc) in want.keys() & found.keys()
        if found[(s, loc)] is None or abs((found[(s, loc)] or 0) - want[(s, loc)]) > SLACK
    )
    return {
        "ok": not (missing or invented or wrong or tally.bad_count),
        "snapshot": str(path),
        "rows": tally.rows,
        "keys": tally.keys,
        "bad_rows": tally.bad_count,
        "injected": sum(d.kind != "negative_in_truth" for d in expected),
        "negative_in_truth": sum(d.kind == "negative_in_truth" for d in expected),
        "found": len(found),
        "missing": missing,
        "invented": invented,
        "wrong_size": wrong,
        "drift": [d.to_dict() for d in expected],
    }


async def snapshot_report(
    truth: Truth,
    events: list[Any],
    path: Path,
    *,
    drift: int,
    seed: int,
    mongodb_url: str,
    availability_db: str,
    sku_prefix: str,
) -> dict[str, Any]:
    """What `distsync simulate --snapshot FILE` adds to its report: the snapshot written as of
    the last event time, and what the reconciliation found in it."""
    import asyncio

    from shared.runtime import mongo_client

    as_of = max(e.time for e in events if e.time is not None)
    expected = await asyncio.to_thread(
        write_snapshot, truth, path, as_of=as_of, drift=drift, seed=seed, sku_prefix=sku_prefix
    )
    client = mongo_client(mongodb_url)
    try:
        return await check_snapshot(
            path, expected, client[availability_db], as_of=as_of, sku_prefix=sku_prefix
        )
    finally:
        await client.close()
