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
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

ENV = "DISTSYNC_SECANTUS_GC_FREEZE_S"
DEFAULT_INTERVAL_S = 5.0


def freeze_interval() -> float:
    raw = os.environ.get(ENV, "")
    try:
        return float(raw) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


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
    from secantus.cli import main as secantus_main

    install(freeze_interval())
    sys.argv[0] = "secantusd-py"
    return int(secantus_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
