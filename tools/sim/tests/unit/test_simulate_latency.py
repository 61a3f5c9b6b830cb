"""The simulator's visibility latency: live events apart from the go-live load, and what counts
as outside the chaos windows."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from distsync_sim.simulate.checks import latencies

T0 = 1_000_000.0


def _ev(at: float, typ: str = "inventory.adjusted") -> SimpleNamespace:
    return SimpleNamespace(time=datetime.fromtimestamp(at, UTC), type=typ)


def _run(samples: dict[str, tuple[float, float]], go_live: set[str], chaos: list[dict]) -> dict:
    """samples: source event id -> (its event time, when its availability.changed was seen)."""
    stream = SimpleNamespace(
        log={i: _ev(t) for i, (t, _) in samples.items()},
        published_at={i: t for i, (t, _) in samples.items()},
        go_live_ids=go_live,
    )
    listener = SimpleNamespace(
        seen={}, visible=[("availability.changed", i, seen) for i, (_, seen) in samples.items()]
    )
    return latencies(stream, listener, chaos)  # type: ignore[arg-type]


def test_the_go_live_load_is_reported_apart_from_live_operation():
    out = _run({"g": (T0, T0 + 5.0), "l": (T0 + 10, T0 + 10.2)}, {"g"}, [])
    assert out["all"]["samples"] == 1 and out["all"]["max_ms"] == 200
    assert out["go_live"]["samples"] == 1 and out["go_live"]["max_ms"] == 5000
    assert out["with_go_live"]["samples"] == 2


def test_an_event_sent_just_before_an_outage_and_held_up_by_it_is_not_outside_chaos():
    chaos = [{"started": T0 + 100, "ended": T0 + 110}]
    out = _run(
        {
            "before": (T0 + 50, T0 + 50.1),  # done long before the outage
            "caught": (T0 + 99.5, T0 + 111.0),  # sent 0.5 s before it, seen after it
            "during": (T0 + 105, T0 + 111.0),
            "after": (T0 + 200, T0 + 200.1),  # more than 30 s after it ended
        },
        set(),
        chaos,
    )
    assert out["all"]["samples"] == 4
    assert out["outside_chaos"]["samples"] == 2
    assert out["outside_chaos"]["max_ms"] == 100
