"""The reconciliation's pure parts: placing a position at a time, reading rows, the disk sort,
judging order statuses, the count plan's integrity and approval."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distsync_ops.reconcile import counts, orders, spill, store
from distsync_ops.reconcile.quantities import fmt_units, parse_qty, parse_time, to_micro
from distsync_ops.reconcile.rewind import COUNTED_AFTER, FOLDED_AFTER, on_hand_at, quarantined_at
from distsync_ops.reconcile.rows import BadRow, InputError, records
from distsync_ops.reconcile.stock import parse_row
from distsync_ops.reconcile.tally import KeyResult, Tally

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def t(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def pos(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"on_hand_base": 10.0, "movements": [], "quarantined": 0.0}
    doc.update(kw)
    return doc


def mv(s: float, delta: float) -> dict[str, Any]:
    return {"at": t(s), "event_id": f"e{s}", "delta": delta}


def test_on_hand_is_the_base_plus_the_movements_up_to_and_including_the_time() -> None:
    doc = pos(movements=[mv(1, 5), mv(2, -3.25), mv(3, 7)])
    assert on_hand_at(doc, t(0)).micro == to_micro(parse_qty("10"))
    assert on_hand_at(doc, t(2)).micro == to_micro(parse_qty("11.75"))
    r = on_hand_at(doc, t(2.5))
    assert r.micro == to_micro(parse_qty("11.75")) and r.later_micro == 7_000_000
    assert on_hand_at(None, t(0)).micro == 0


def test_a_time_before_the_latest_count_or_the_folded_history_is_not_comparable() -> None:
    counted = pos(counted={"at": t(5), "event_id": "c"}, movements=[mv(6, 1)])
    assert on_hand_at(counted, t(4)).unknown == COUNTED_AFTER
    assert on_hand_at(counted, t(5)).micro == 10_000_000
    folded = pos(folded_through=t(5))
    assert on_hand_at(folded, t(4.999)).unknown == FOLDED_AFTER
    assert on_hand_at(folded, t(5)).micro == 10_000_000


def test_quarantined_is_known_only_when_nothing_later_touched_the_position() -> None:
    doc = pos(quarantined=4.0, as_of=t(10))
    assert quarantined_at(doc, t(10)).micro == 4_000_000
    assert quarantined_at(doc, t(9)).micro is None


def test_bad_rows_are_reported_with_their_line_numbers_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    f = tmp_path / "s.csv"
    f.write_text(
        "SKU, Location ,qty,uom,as_of\n"
        "A,L1,3,,\n"
        ",L1,3,,\n"
        "A,L1,abc,,\n"
        "A,L1,1,,,extra\n"
        "\n"
        "B,L2,NaN,,\n"
        'C,"L 3",2.5,CASE,2026-12-01T08:00:00\n'
        "D,L1,1,,2999-01-01T00:00:00Z\n",
        encoding="utf-8",
    )
    good, bad = [], []
    now = datetime.now(UTC)
    for got in records(f, ("sku", "location", "qty")):
        if isinstance(got, BadRow):
            bad.append(got.line)
            continue
        line, rec = got
        try:
            good.append(parse_row(line, rec, T0, now))
        except ValueError:
            bad.append(line)
    assert [g[1] for g in good] == [2, 8]
    assert good[1][2:7] == ("C", "L 3", "2.5", "CASE", "2026-12-01T08:00:00.000Z")
    assert bad == [3, 4, 5, 7, 9]


def test_json_lines_are_read_like_csv(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text('{"sku": "A", "location": "L", "qty": 2}\nnot json\n[1]\n', encoding="utf-8")
    got = list(records(f, ("sku", "location", "qty")))
    assert got[0] == (1, {"sku": "A", "location": "L", "qty": 2})
    assert [b.line for b in got[1:] if isinstance(b, BadRow)] == [2, 3]


def test_a_header_without_the_required_columns_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("sku,qty\nA,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks location"):
        list(records(f, ("sku", "location", "qty")))
    with pytest.raises(InputError, match="cannot read"):
        list(records(tmp_path / "missing.csv", ("sku",)))


def test_the_disk_sort_returns_every_record_in_order() -> None:
    rng = random.Random(7)
    recs = [(f"k{rng.randrange(10_000):05d}", i) for i in range(5_000)]
    s = spill.Sorter(chunk=333)
    for r in recs:
        s.add(r)
    assert list(s.sorted()) == sorted(recs)


def test_position_keys_escape_their_separator() -> None:
    assert store.position_key("A|B", "L%1") == "A%7CB|L%251"
    assert store.position_key("A", "B|C") != store.position_key("A|B", "C")


def test_quantities_are_exact_and_printed_without_noise() -> None:
    assert to_micro(parse_qty("7.5"), 12) == 90_000_000
    assert fmt_units(-6_000_000) == "-6" and fmt_units(2_500_000) == "2.5"
    for bad in ("-1", "inf", "x", ""):
        with pytest.raises(ValueError):
            parse_qty(bad)
    assert parse_time("2026-12-01T09:00:00+01:00") == T0


def test_tally_keeps_the_largest_variances_and_judges_tolerance_per_location() -> None:
    tally = Tally(tolerance=1_000_000, tolerance_rate=None, top_n=2)
    for sku, snap, ds in (("A", 10, 10), ("B", 10, 13), ("C", 10, 9), ("D", 10, 4)):
        tally.add(KeyResult(sku, "L", 1, T0, snap * 1_000_000, ds * 1_000_000))
    assert [r.sku for r in tally.top()] == ["D", "B"]
    loc = tally.locations["L"]
    assert (loc.net, loc.absolute, loc.keys_beyond_tolerance) == (
        4_000_000,
        10_000_000,
        2,
    )
    assert not tally.ok()
    tally.tolerance_rate = 0.25
    assert tally.ok()
    none = Tally(top_n=0)
    none.add(KeyResult("A", "L", 1, T0, 1, 2))
    assert none.top() == [] and none.locations["L"].keys_with_variance == 1


def state(*ms: tuple[str, float]) -> store.OrderState:
    return store.OrderState(ms[-1][0], tuple((s, t(x)) for s, x in ms))


def test_order_statuses_are_judged_at_the_exports_time_and_name_the_milestone() -> None:
    s = state(("received", 0), ("picked", 10), ("shipped", 20))
    assert orders.judge("O", 2, "x", "shipped", s, None) is None
    assert orders.judge("O", 2, "x", "picked", s, t(15)) is None
    d = orders.judge("O", 2, "x", "delivered", s, None)
    assert d is not None and (d.kind, d.milestone) == ("distsync_behind", "delivered")
    d = orders.judge("O", 2, "x", "received", s, t(12))
    assert d is not None and (d.kind, d.milestone, d.distsync) == (
        "distsync_ahead",
        "picked",
        "picked",
    )
    d = orders.judge("O", 2, "x", "cancelled", s, None)
    assert d is not None and (d.kind, d.milestone) == ("different", "cancelled")
    d = orders.judge("O", 2, "x", "received", None, None)
    assert d is not None and d.kind == "missing"
    d = orders.judge("O", 2, "x", "received", s, t(-1))
    assert d is not None and d.kind == "missing"


def test_mapping_codes_ignore_case_and_separators(tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_text('{"Credit Hold": null, "IN-PICK": "picked"}', encoding="utf-8")
    m = orders.load_mapping(f)
    assert m[orders.code("credit_hold")] is None and m[orders.code("in pick")] == "picked"
    f.write_text('{"X": "teleported"}', encoding="utf-8")
    with pytest.raises(InputError, match="not a canonical status"):
        orders.load_mapping(f)


def test_a_plan_is_refused_when_edited_or_approved_by_its_requester(tmp_path: Path) -> None:
    path = tmp_path / "plan.jsonl"
    w = counts.PlanWriter(path, requested_by="alice", snapshot="s.csv", tolerance=0)
    w.consider(KeyResult("A", "L", 2, T0, 9_000_000, 7_000_000))
    w.consider(KeyResult("B", "L", 3, T0, 5_000_000, 5_000_000))  # no variance: no count
    w.consider(KeyResult("C", "L", 4, T0, 5_000_000, None, COUNTED_AFTER))  # unknown: none
    digest = w.close()
    plan = counts.read_plan(path)
    assert plan.digest == digest and [c["sku"] for c in plan.counts] == ["A"]
    with pytest.raises(InputError, match="someone other"):
        counts.check_approval(plan, " ALICE ", None)
    with pytest.raises(InputError, match="approved-by"):
        counts.check_approval(plan, None, None)
    counts.check_approval(plan, "bob", "alice")
    evs = counts.events(plan, source=counts.source_of("erp-recon"), approved_by="bob")
    again = counts.events(plan, source=counts.source_of("erp-recon"), approved_by="bob")
    assert [e.id for e in evs] == [e.id for e in again]
    assert evs[0].source == "wms/erp-recon" and evs[0].time == T0
    assert evs[0].data["counted_qty"] == 9.0 and evs[0].data["user"] == "alice"
    path.write_text(path.read_text().replace('"9"', '"19"'), encoding="utf-8")
    with pytest.raises(InputError, match="changed"):
        counts.read_plan(path)
    failed = counts.PlanWriter(tmp_path / "f.jsonl", requested_by="a", snapshot="s", tolerance=0)
    failed.consider(KeyResult("A", "L", 2, T0, 9_000_000, 7_000_000))
    failed.abort()  # a run that failed half-way leaves no plan that could pass for complete
    assert not (tmp_path / "f.jsonl").exists()
