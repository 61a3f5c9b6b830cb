"""An external merge sort: records sorted in chunks that are written to temporary files, then
merged, so that a million-row input is sorted in bounded memory. Records are tuples whose
natural order is the wanted order; the files are private to this process and removed at the
end."""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

CHUNK = 100_000  # records held in memory before a sorted run goes to disk
BLOCK = 1_000  # records per pickle frame: what the merge holds per run


class Sorter:
    """Collects records, then `sorted()` yields them in order (once)."""

    def __init__(self, chunk: int = CHUNK, directory: str | None = None) -> None:
        self.chunk = chunk
        self._buf: list[tuple[Any, ...]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="distsync-reconcile-", dir=directory)
        self._runs: list[Path] = []
        self.count = 0

    def add(self, record: tuple[Any, ...]) -> None:
        self._buf.append(record)
        self.count += 1
        if len(self._buf) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        self._buf.sort()
        path = Path(self._tmp.name) / f"run-{len(self._runs)}.pickle"
        with open(path, "wb") as fh:
            for i in range(0, len(self._buf), BLOCK):
                pickle.dump(self._buf[i : i + BLOCK], fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._runs.append(path)
        self._buf = []

    def sorted(self) -> Iterator[tuple[Any, ...]]:
        try:
            if not self._runs:
                self._buf.sort()
                yield from self._buf
                return
            self._flush()
            files = [open(p, "rb") for p in self._runs]
            try:
                yield from heapq.merge(*(_read(f) for f in files))
            finally:
                for f in files:
                    f.close()
        finally:
            self._buf = []
            self.close()

    def close(self) -> None:
        self._tmp.cleanup()


def _read(fh: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    while True:
        try:
            block: list[tuple[Any, ...]] = pickle.load(fh)
        except EOFError:
            return
        yield from block


def sort_all(records: Iterable[tuple[Any, ...]], chunk: int = CHUNK) -> Iterator[tuple[Any, ...]]:
    s = Sorter(chunk)
    for r in records:
        s.add(r)
    return s.sorted()
