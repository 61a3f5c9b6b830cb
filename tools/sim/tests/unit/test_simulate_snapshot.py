"""The ground-truth snapshot: every position written at its true on-hand except the drift
injected on purpose, which is returned exactly (kind, sign and size), the same for one seed."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from distsync_sim.simulate.snapshot import decimal_text, write_snapshot
from distsync_sim.simulate.truth import Position, Truth

AS_OF = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def truth() -> Truth:
    t = Truth()
    for i in range(12):
        p = Position()
        p.movements.append((0, Fraction(10 + i, 2)))
        t.positions[(f"S{i:02d}", "DC1" if i % 2 else "DC2")] = p
    neg = Position()
    neg.movements.append((0, Fraction(-3)))
    t.positions[("NEG", "DC1")] = neg
    return t


def read(path: Path) -> dict[tuple[str, str], Fraction]:
    with open(path, encoding="utf-8") as fh:
        return {(r["sku"], r["location"]): Fraction(r["qty"]) for r in csv.DictReader(fh)}


def test_the_snapshot_differs_from_the_truth_by_exactly_the_returned_drift(tmp_path: Path) -> None:
    t = truth()
    drift = write_snapshot(t, tmp_path / "s.csv", as_of=AS_OF, drift=6, seed=3, sku_prefix="X-")
    rows = read(tmp_path / "s.csv")
    kinds = sorted(d.kind for d in drift)
    assert kinds == [
        "changed",
        "changed",
        "dropped",
        "dropped",
        "negative_in_truth",
        "phantom",
        "phantom",
    ]
    # the snapshot, with the truth's values put back where drift was injected, is the truth
    for d in drift:
        if d.kind in ("changed", "phantom"):
            assert rows[(d.sku, d.location)] == d.snapshot and d.variance != 0
        else:
            assert (d.sku, d.location) not in rows
    drifted = {(d.sku, d.location) for d in drift}
    for key, p in t.positions.items():
        if key not in drifted:
            assert rows[key] == p.on_hand
    assert all(d.sku.startswith("X-PHANTOM-") for d in drift if d.kind == "phantom")
    again = write_snapshot(t, tmp_path / "t.csv", as_of=AS_OF, drift=6, seed=3, sku_prefix="X-")
    assert again == drift


def test_quantities_are_written_to_the_millionth() -> None:
    assert decimal_text(Fraction(15, 2)) == "7.5"
    assert decimal_text(Fraction(1, 3)) == "0.333333"
    assert decimal_text(Fraction(12)) == "12"
