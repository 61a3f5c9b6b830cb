"""Starts the embedded SecantusDB (tests, `make run`, the simulator) with a garbage-collector
policy that keeps its pauses short. Production runs against mongod and never uses this.

Why: SecantusDB 0.7.0b3's WiredTiger binding keeps the Python proxy of every transaction's
WiredTiger session and its cursors alive after the transaction ends (about six objects per
transaction, none of them ever freed). Each full collection of CPython's cyclic collector walks
all of them while it holds the GIL, so the whole server stops: 10 ms after 5,000 transactions,
230 ms after 30,000, over a second in a 100,000-event simulation, every minute or two. That
pause was the tail of the simulator's latency.

The policy: every `interval` seconds, collect once (only objects created since the previous
round are still tracked, so this is short) and then `gc.freeze()` the survivors, which moves
them out of every later collection. Frozen objects are still freed by reference counting; only
a cycle formed later among frozen objects would stay until exit, which for a test server is a
price worth paying. Set DISTSYNC_SECANTUS_GC_FREEZE_S=0 to run the server untouched.

Its TTL sweeper is off unless DISTSYNC_SECANTUS_TTL_SWEEP_S says otherwise. Every 60 s it decodes
every document of every collection that has a TTL index, holding the server's global lock, so
every client stalls: 0.6-1.8 s per sweep over the outbox of a 100,000-event simulation, growing
with the outbox. The outbox's index (sent events kept 7 days) is the only TTL index distsync
has, so in a test, a benchmark or a simulation the sweeper deletes nothing anyway. (SecantusDB's
command line does not pass its own `ttl_sweep_seconds` setting on, hence the wrapper.) For a
long-lived `make run` that should expire old outbox entries, set it to e.g. 3600.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
import time

ENV = "DISTSYNC_SECANTUS_GC_FREEZE_S"
DEFAULT_INTERVAL_S = 5.0
TTL_ENV = "DISTSYNC_SECANTUS_TTL_SWEEP_S"


def _seconds(env: str, default: float) -> float:
    raw = os.environ.get(env, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def freeze_interval() -> float:
    return _seconds(ENV, DEFAULT_INTERVAL_S)


def ttl_sweep_seconds() -> float:
    return max(0.0, _seconds(TTL_ENV, 0.0))


def freeze_round() -> tuple[int, float]:
    """One round: collect what is young, freeze the rest. Returns (frozen total, seconds)."""
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count(), time.perf_counter() - t0


def _freezer(interval: float) -> None:
    while True:
        time.sleep(interval)
        freeze_round()


def install(interval: float) -> bool:
    if interval <= 0:
        return False
    threading.Thread(target=_freezer, args=(interval,), name="gc-freezer", daemon=True).start()
    return True


def main() -> int:
    import secantus.cli

    secantus.cli.SecantusDBServer = functools.partial(
        secantus.cli.SecantusDBServer, ttl_sweep_seconds=ttl_sweep_seconds()
    )
    install(freeze_interval())
    sys.argv[0] = "secantusd-py"
    return int(secantus.cli.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
