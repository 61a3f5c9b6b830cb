"""`distsync reconcile stock`: a stock snapshot against distsync's positions at its time.

Two passes in bounded memory. The first reads the snapshot as a stream, checks each row and
sorts the good ones by position key on disk (`spill`). The second merges them, key by key,
with availability's positions in the same order (every position at the snapshot's locations
when the snapshot is complete, batched lookups when it is partial) and tallies each key.
Several rows of one key (bins, lots) are added up.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from distsync_ops.reconcile import spill, store
from distsync_ops.reconcile.quantities import iso, ms, parse_qty, parse_time, to_micro
from distsync_ops.reconcile.rewind import on_hand_at, quarantined_at
from distsync_ops.reconcile.rows import BadRow, Progress, records, text_field
from distsync_ops.reconcile.tally import CSV_HEADER, KeyResult, Tally

REQUIRED = ("sku", "location", "qty")
GROUP_BATCH = 1_000  # keys looked up together
FUTURE_SLACK = timedelta(minutes=1)

# a sorted snapshot row: (key, line, sku, location, qty, uom, as_of, quarantined)
Row = tuple[str, int, str, str, str, str, str, str]


@dataclass
class StockOptions:
    as_of: datetime  # for rows without one
    tolerance: int = 0  # micro base units
    tolerance_rate: float | None = None
    complete: bool = True  # a position the snapshot does not list counts as 0 in it
    sku_prefix: str = ""
    top: int = 20
    progress: bool = False
    chunk: int = spill.CHUNK


OnKey = Callable[[KeyResult], None]


def parse_row(line: int, rec: dict[str, Any], default_as_of: datetime, now: datetime) -> Row:
    """One snapshot row checked; ValueError says what is wrong with it."""
    sku = text_field(rec, "sku", required=True)
    location = text_field(rec, "location", required=True)
    assert sku is not None and location is not None
    qty = parse_qty(rec.get("qty"))
    uom = text_field(rec, "uom", required=False) or ""
    raw_at = rec.get("as_of")
    at = default_as_of
    if raw_at not in (None, ""):
        if not isinstance(raw_at, str):
            raise ValueError("as_of is not text")
        at = parse_time(raw_at)
    if at > now + FUTURE_SLACK:
        raise ValueError(f"as_of {iso(at)} is in the future")
    raw_q = rec.get("quarantined")
    quarantined = "" if raw_q in (None, "") else str(parse_qty(raw_q, "quarantined"))
    key = store.position_key(sku, location)
    return (key, line, sku, location, str(qty), uom, iso(at) or "", quarantined)


async def reconcile_stock(
    path: Path,
    db: Any,
    opts: StockOptions,
    *,
    on_key: OnKey | None = None,
    csv_path: Path | None = None,
) -> Tally:
    """Compare `path` with the positions in availability's database `db`. `on_key` sees every
    compared key (the count plan); `csv_path` receives every key that differs or cannot be
    compared, largest first."""
    tally = Tally(opts.tolerance, opts.tolerance_rate, opts.top)
    now = datetime.now(UTC)
    sorter = spill.Sorter(opts.chunk)
    locations: dict[str, datetime] = {}  # location -> the latest as_of of its rows
    progress = Progress(opts.progress, f"reading {path.name}")
    for got in records(path, REQUIRED, progress):
        if isinstance(got, BadRow):
            tally.add_bad(got)
            continue
        line, rec = got
        tally.rows += 1
        try:
            row = parse_row(line, rec, ms(opts.as_of), now)
        except ValueError as e:
            tally.add_bad(BadRow(line, str(e)))
            continue
        at = parse_time(row[6])
        if row[3] not in locations or locations[row[3]] < at:
            locations[row[3]] = at
        sorter.add(row)
    out = _CsvOut(csv_path, opts.chunk) if csv_path is not None else None
    merging = Progress(opts.progress, "comparing keys")

    async def take(r: KeyResult) -> None:
        tally.add(r)
        if on_key is not None:
            on_key(r)
        if out is not None and (r.size() or r.unknown):
            out.add(r)
        if tally.keys % 10_000 == 0:
            merging.tick(tally.keys)

    items: OrderedDict[str, store.ItemUnits | None] = OrderedDict()
    async for batch in _batches(sorter, db, locations, opts):
        for r in await _compare_batch(batch, db, tally, locations, items):
            await take(r)
    merging.tick(tally.keys, force=True)
    if out is not None:
        out.write()
    return tally


Pair = tuple[list[Row], dict[str, Any] | None]


async def _batches(
    sorter: spill.Sorter, db: Any, locations: dict[str, datetime], opts: StockOptions
) -> AsyncIterator[list[Pair]]:
    """The snapshot's groups merged with the positions, in key order, a batch at a time."""
    batch: list[Pair] = []
    if opts.complete:
        stream = _merge(_groups(sorter), store.positions_sorted(db, locations, opts.sku_prefix))
        async for pair in stream:
            batch.append(pair)
            if len(batch) >= GROUP_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    groups: list[list[Row]] = []
    for g in _groups(sorter):
        groups.append(g)
        if len(groups) >= GROUP_BATCH:
            yield await _lookup(db, groups)
            groups = []
    if groups:
        yield await _lookup(db, groups)


async def _lookup(db: Any, groups: list[list[Row]]) -> list[Pair]:
    found = await store.positions_by_key(db, [g[0][0] for g in groups])
    return [(g, found.get(g[0][0])) for g in groups]


def _groups(sorter: spill.Sorter) -> Any:
    group: list[Row] = []
    for row in sorter.sorted():
        if group and row[0] != group[0][0]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


async def _merge(groups: Any, positions: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Pair]:
    """Sorted merge of snapshot groups and position documents by key."""
    pos = await anext(positions, None)
    for g in groups:
        key = g[0][0]
        while pos is not None and pos["_id"] < key:
            yield [], pos
            pos = await anext(positions, None)
        if pos is not None and pos["_id"] == key:
            yield g, pos
            pos = await anext(positions, None)
        else:
            yield g, None
    while pos is not None:
        yield [], pos
        pos = await anext(positions, None)


ITEM_CACHE = 20_000  # item records kept between batches (a SKU's keys are near each other)


async def _compare_batch(
    batch: list[Pair],
    db: Any,
    tally: Tally,
    loc_as_of: dict[str, datetime],
    cache: OrderedDict[str, store.ItemUnits | None],
) -> list[KeyResult]:
    skus = sorted({r[2] for rows, _ in batch for r in rows if r[5]})
    todo = [s for s in skus if s not in cache]
    if todo:
        found = await store.item_units(db, todo)
        for s in todo:
            cache[s] = found.get(s)
        while len(cache) > ITEM_CACHE:
            cache.popitem(last=False)
    units = {s: u for s in skus if (u := cache.get(s)) is not None}
    out: list[KeyResult] = []
    for rows, doc in batch:
        r = _compare_key(rows, doc, units, tally, loc_as_of)
        if r is not None:
            out.append(r)
    return out


def _compare_key(
    rows: list[Row],
    doc: dict[str, Any] | None,
    units: dict[str, store.ItemUnits],
    tally: Tally,
    loc_as_of: dict[str, datetime],
) -> KeyResult | None:
    if not rows:  # a position a complete snapshot does not list: 0 there, at the location's time
        assert doc is not None
        at = loc_as_of[doc["location"]]
        oh = on_hand_at(doc, at)
        if not oh.micro and oh.unknown is None:
            return None
        sku, loc = str(doc["sku"]), str(doc["location"])
        return KeyResult(sku, loc, None, at, 0, oh.micro, oh.unknown, oh.later_micro)
    qty, q_qty, first, at = 0, None, None, parse_time(rows[0][6])
    for _key, line, sku, _loc, raw_qty, uom, raw_at, raw_q in rows:
        if raw_at != rows[0][6]:
            tally.add_bad(BadRow(line, f"as_of differs from line {rows[0][1]} of the same key"))
            continue
        factor = 1.0
        if uom:
            item = units.get(sku)
            f = item.factor(uom) if item is not None else None
            if f is None:
                why = "no item record" if item is None else f"no conversion from {uom}"
                tally.add_bad(BadRow(line, f"unknown unit {uom!r} for {sku}: {why}"))
                continue
            factor = f
        qty += to_micro(Decimal(raw_qty), factor)
        if raw_q:
            q_qty = (q_qty or 0) + to_micro(Decimal(raw_q), factor)
        first = line if first is None else first
    if first is None:
        return None  # every row of the key was bad: nothing to compare
    oh = on_hand_at(doc, at)
    r = KeyResult(rows[0][2], rows[0][3], first, at, qty, oh.micro, oh.unknown, oh.later_micro)
    if q_qty is not None:
        qa = quarantined_at(doc, at)
        r.q_snapshot, r.q_distsync, r.q_unknown = q_qty, qa.micro, qa.unknown
    return r


class _CsvOut:
    """Every key that differs, written largest first after a disk sort."""

    def __init__(self, path: Path, chunk: int) -> None:
        self.path = path
        self.sorter = spill.Sorter(chunk)

    def add(self, r: KeyResult) -> None:
        self.sorter.add((-r.size(), r.sku, r.location, tuple(r.csv_row())))

    def write(self) -> None:
        with open(self.path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_HEADER)
            for rec in self.sorter.sorted():
                w.writerow(rec[3])
