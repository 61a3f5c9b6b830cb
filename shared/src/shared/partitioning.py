"""Which partition an aggregate's messages go to: a stable 64-bit hash of its key, spread by
jump consistent hashing (Lamping and Veach, 2014), so that raising the partition count from n
to n + 1 moves only about 1/(n + 1) of the keys, and every process agrees without talking."""

from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1
_MULT = 2862933555777941757  # the linear congruential step of the published algorithm


def key_hash(key: str) -> int:
    """A 64-bit hash that is the same in every process (Python's `hash` is salted per run)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def jump(h: int, buckets: int) -> int:
    """The bucket in [0, buckets) of a 64-bit hash."""
    if buckets < 1:
        raise ValueError("at least one bucket")
    b, j = -1, 0
    while j < buckets:
        b = j
        h = (h * _MULT + 1) & _MASK
        j = int((b + 1) * (float(1 << 31) / float((h >> 33) + 1)))
    return b


def partition_of(key: str, count: int) -> int:
    return jump(key_hash(key), count)
