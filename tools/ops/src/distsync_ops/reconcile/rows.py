"""The input files, read as streams: CSV with a header line, or JSON lines with the same keys.

A row that cannot be used becomes a `BadRow` with its line number and the reason; it never
stops the reading. A file that cannot be read at all, or a CSV header without the required
columns, raises `InputError` (the command exits 2).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
MAX_ID = 200  # contract §10: ids and codes


class InputError(Exception):
    """The file as a whole cannot be read (exit status 2)."""


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


class Progress:
    """A line on stderr now and then while a large file is read (never on stdout)."""

    def __init__(self, enabled: bool, label: str, total_bytes: int | None = None) -> None:
        self.enabled = enabled
        self.label = label
        self.total = total_bytes
        self._last = time.monotonic()

    def tick(self, rows: int, done_bytes: int | None = None, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 2.0:
            return
        self._last = now
        share = ""
        if done_bytes is not None and self.total:
            share = f" ({100 * min(done_bytes, self.total) / self.total:.0f}% of the file)"
        print(f"{self.label}: {rows:,} rows{share}", file=sys.stderr, flush=True)


def text_field(rec: dict[str, Any], name: str, *, required: bool) -> str | None:
    """A trimmed code (sku, location, order id, unit); ValueError when it is unusable."""
    raw = rec.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if not isinstance(raw, str | int):
        raise ValueError(f"{name} is not text")
    text = str(raw).strip()
    if len(text) > MAX_ID:
        raise ValueError(f"{name} is longer than {MAX_ID} characters")
    if not text.isascii():
        try:  # undecodable bytes were read as lone surrogates, which do not encode
            size = len(text.encode())
        except UnicodeEncodeError:
            raise ValueError(f"{name} is not UTF-8") from None
        if size > 255:
            raise ValueError(f"{name} is longer than 255 bytes of UTF-8")
    return text


def records(
    path: Path, required: tuple[str, ...], progress: Progress | None = None
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    """(line number, record) per row of `path`, or a BadRow; CSV or JSON lines by suffix or
    by the first character."""
    try:
        size = os.path.getsize(path)
        fh = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    if progress is not None:
        progress.total = size
    with fh:
        first = fh.read(1)
        fh.seek(0)
        if path.suffix.lower() in JSON_SUFFIXES or first == "{":
            yield from _json_lines(fh, progress, size)
        else:
            yield from _csv(fh, required, progress, size)


def _json_lines(
    fh: IO[str], progress: Progress | None, size: int
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    n = 0
    for n, line in enumerate(fh, start=1):
        if progress is not None and n % 10_000 == 0:
            progress.tick(n, _position(fh))
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            yield BadRow(n, f"not JSON: {e}")
            continue
        if not isinstance(rec, dict):
            yield BadRow(n, "not a JSON object")
            continue
        yield n, rec
    if progress is not None:
        progress.tick(n, size, force=True)


def _csv(
    fh: IO[str], required: tuple[str, ...], progress: Progress | None, size: int
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    reader = csv.reader(fh, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty (a CSV header line is needed)") from None
    except csv.Error as e:
        raise InputError(f"the header line is not CSV: {e}") from None
    names = [h.strip().lower() for h in header]
    missing = [r for r in required if r not in names]
    if missing:
        raise InputError(
            f"the CSV header lacks {', '.join(missing)} (it has: {', '.join(names) or 'nothing'})"
        )
    rows = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield BadRow(reader.line_num, f"not CSV: {e}")
            continue
        line = reader.line_num
        rows += 1
        if progress is not None and rows % 10_000 == 0:
            progress.tick(rows, _position(fh))
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(names):
            yield BadRow(line, f"{len(fields)} fields where the header has {len(names)}")
            continue
        yield line, dict(zip(names, fields, strict=False))
    if progress is not None:
        progress.tick(rows, size, force=True)


def _position(fh: IO[str]) -> int | None:
    buf = getattr(fh, "buffer", None)
    try:
        return int(buf.tell()) if buf is not None else None
    except (OSError, ValueError):
        return None
