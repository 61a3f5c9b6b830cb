"""Flat files of stock counts, adjustments, purchase orders and ASNs: rows to event payloads.

A file is CSV with a header row, or JSON lines (one object per line) with the same field names.
Each row of `counts` and `adjustments` is one event; rows of `purchase-orders` and `asns` are
lines, grouped into one event per `po_id` / `asn_id`. Every event's id is derived from the file's
content hash and its (first) line number, so the same file, however often it arrives, produces
the same events and is applied once. What a row means is checked here only as far as turning
text into JSON values; the events' models decide the rest (`ingress.admission`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str
    type: str
    system: str  # the system whose events these are by default
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    numbers: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    group_by: str | None = None  # rows with the same value form one event
    head: tuple[str, ...] = ()  # per-event fields of a grouped kind; the rest are line fields
    correlate: str | None = None  # the field copied into `correlationid`


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "counts",
            "inventory.counted",
            "wms",
            ("location", "sku", "counted_qty"),
            ("uom", "user", "time"),
            numbers=frozenset({"counted_qty"}),
        ),
        Kind(
            "adjustments",
            "inventory.adjusted",
            "wms",
            ("location", "sku", "qty_delta", "reason_code"),
            ("uom", "user", "lot", "time"),
            numbers=frozenset({"qty_delta"}),
        ),
        Kind(
            "purchase-orders",
            "purchase_order.released",
            "erp",
            ("po_id", "supplier_id", "location", "expected_date", "line_id", "sku", "qty"),
            ("uom", "lot_tracked", "over_receipt_tolerance_pct", "time"),
            numbers=frozenset({"qty", "over_receipt_tolerance_pct"}),
            flags=frozenset({"lot_tracked"}),
            group_by="po_id",
            head=("po_id", "supplier_id", "location", "expected_date"),
            correlate="po_id",
        ),
        Kind(
            "asns",
            "asn.received",
            "erp",
            ("asn_id", "po_id", "location", "expected_date", "po_line_id", "sku", "qty"),
            ("uom", "time"),
            numbers=frozenset({"qty"}),
            group_by="asn_id",
            head=("asn_id", "po_id", "location", "expected_date"),
            correlate="po_id",
        ),
    )
}

MAX_ROWS = 100_000
TRUE = frozenset({"true", "yes", "y", "1", "t"})
FALSE = frozenset({"false", "no", "n", "0", "f"})


class FileError(ValueError):
    """The file as a whole cannot be read (not UTF-8, no header, a required column missing)."""


@dataclass(frozen=True)
class RowEvent:
    line: int  # the (first) line of the file it comes from, 1-based, the header being line 1
    id: str
    type: str
    data: dict[str, Any]
    time: str | None = None
    correlationid: str | None = None
    lines: tuple[int, ...] = ()  # every line a grouped event was built from


@dataclass(frozen=True)
class RowRefusal:
    line: int
    reason: str


@dataclass
class Parsed:
    digest: str
    events: list[RowEvent] = field(default_factory=list)
    refused: list[RowRefusal] = field(default_factory=list)
    rows: int = 0


def file_digest(kind: str, content: bytes) -> str:
    return hashlib.sha256(kind.encode() + b"\x00" + content).hexdigest()


def event_id(digest: str, line: int) -> str:
    return f"file-{digest[:32]}-{line}"


def fmt_of(name: str | None, content_type: str | None) -> str:
    """`jsonl` for JSON lines (by content type or file name), else `csv`."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct in ("application/jsonl", "application/x-ndjson", "application/json-lines"):
        return "jsonl"
    if ct == "text/csv":
        return "csv"
    low = (name or "").lower()
    return "jsonl" if low.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def parse_file(kind: Kind, content: bytes, fmt: str) -> Parsed:
    """The events a file makes, and the rows it refuses with their line numbers."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileError(f"the file is not UTF-8 text: {e}") from e
    rows = _jsonl_rows(text) if fmt == "jsonl" else _csv_rows(kind, text)
    out = Parsed(file_digest(kind.name, content))
    built: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        out.rows += 1
        if out.rows > MAX_ROWS:
            raise FileError(f"more than {MAX_ROWS} rows: split the file")
        if isinstance(row, str):
            out.refused.append(RowRefusal(line, row))
            continue
        values = _values(kind, row)
        if isinstance(values, str):
            out.refused.append(RowRefusal(line, values))
        else:
            built.append((line, values))
    if kind.group_by is None:
        for line, values in built:
            out.events.append(_single(kind, out.digest, line, values))
    else:
        _grouped(kind, out, built)
    out.events.sort(key=lambda e: e.line)
    out.refused.sort(key=lambda r: r.line)
    return out


def _csv_rows(kind: Kind, text: str) -> list[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FileError("the file is empty: a header row is needed") from None
    except csv.Error as e:
        raise FileError(f"line 1: {e}") from e
    names = [h.strip().lower() for h in header]
    missing = [c for c in kind.required if c not in names]
    if missing:
        raise FileError(
            f"line 1: the header lacks {', '.join(missing)} "
            f"(a {kind.name} file needs {', '.join(kind.required)})"
        )
    if len(set(names)) != len(names):
        raise FileError("line 1: a column is named twice")
    rows: list[tuple[int, dict[str, Any] | str]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                rows.append((line, f"{len(cells)} cells where the header has {len(names)}"))
                continue
            rows.append((line, dict(zip(names, cells, strict=True))))
    except csv.Error as e:
        raise FileError(f"line {reader.line_num}: {e}") from e
    return rows


def _jsonl_rows(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_no_constant)
        except ValueError as e:
            rows.append((n, f"not JSON: {e}"))
            continue
        if not isinstance(obj, dict):
            rows.append((n, "a JSON object is needed on every line"))
            continue
        rows.append((n, {str(k).lower(): v for k, v in obj.items()}))
    return rows


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _values(kind: Kind, row: dict[str, Any]) -> dict[str, Any] | str:
    """The row's known fields as JSON values; empty cells are absent. A string on failure."""
    out: dict[str, Any] = {}
    for name in (*kind.required, *kind.optional):
        v = row.get(name)
        if isinstance(v, str):
            v = v.strip()
            if v == "":
                v = None
        if v is None:
            if name in kind.required:
                return f"{name} is missing"
            continue
        if name in kind.numbers and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                return f"{name} {str(v)[:40]!r} is not a number"
        if name in kind.flags and isinstance(v, str):
            if v.lower() not in TRUE | FALSE:
                return f"{name} {v[:40]!r} is not true or false"
            v = v.lower() in TRUE
        out[name] = v
    return out


def _single(kind: Kind, digest: str, line: int, values: dict[str, Any]) -> RowEvent:
    time = values.pop("time", None)
    return RowEvent(line, event_id(digest, line), kind.type, values, _text(time), lines=(line,))


def _grouped(kind: Kind, out: Parsed, built: list[tuple[int, dict[str, Any]]]) -> None:
    assert kind.group_by is not None
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, values in built:
        groups.setdefault(str(values[kind.group_by]), []).append((line, values))
    for key, members in groups.items():
        first_line, first = members[0]
        head = {h: first[h] for h in kind.head}
        time = first.get("time")
        differs = [
            line
            for line, v in members[1:]
            if any(v.get(h) != first.get(h) for h in (*kind.head, "time"))
        ]
        lines = tuple(line for line, _ in members)
        if differs:
            reason = (
                f"{kind.group_by} {key}: lines {', '.join(map(str, lines))} disagree on "
                f"{', '.join(kind.head[1:])} or time"
            )
            out.refused.extend(RowRefusal(line, reason) for line in lines)
            continue
        line_fields = [
            {k: v for k, v in values.items() if k not in kind.head and k != "time"}
            for _, values in members
        ]
        corr = head.get(kind.correlate) if kind.correlate else None
        out.events.append(
            RowEvent(
                first_line,
                event_id(out.digest, first_line),
                kind.type,
                {**head, "lines": line_fields},
                _text(time),
                None if corr is None else str(corr),
                lines,
            )
        )


def _text(v: Any) -> str | None:
    return None if v is None else str(v)
