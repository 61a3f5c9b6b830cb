"""The simulated distributor in CI: a small seeded day with duplicates, reordering, bad
messages and one service killed with SIGKILL and restarted, against the real services run as
subprocesses. Every position and status must match the ground truth; nothing lost."""

from __future__ import annotations

from typing import Any

import pytest

from distsync_sim.simulate.report import render_text
from distsync_sim.simulate.runner import Options, run

pytestmark = pytest.mark.e2e


async def simulate(
    amqp_base_url: str, mongodb_url: str, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[dict[str, Any], str]:
    """One simulation against the test servers, with the services spawned as subprocesses; an
    unknown unit is retried before the DLQ once (1 s), not through 1, 10, 60, 60 s. Returns
    the report and its text."""
    monkeypatch.setenv("AMQP_URL", amqp_base_url)
    monkeypatch.setenv("MONGODB_URL", mongodb_url)
    report = await run(
        Options(
            window=16,
            service_env={"DISTSYNC_MAX_ATTEMPTS": "2"},
            spawn=True,
            progress=False,
            **options,
        )
    )
    return report, render_text(report)


@pytest.mark.timeout(600)
async def test_a_faulty_day_ends_exactly_as_the_ground_truth_says(
    amqp_base_url: str, mongodb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, text = await simulate(
        amqp_base_url,
        mongodb_url,
        monkeypatch,
        events=2000,
        rate=60,
        seed=20261127,
        skus=60,
        chaos_actions=("kill:availability",),
        dup_rate=0.03,
        bad_rate=0.005,
        command="pytest tests/e2e/test_simulation.py",
    )
    assert report["chaos"] and "SIGKILL availability" in report["chaos"][0]["summary"], text
    assert report["events"]["duplicates"] > 0 and report["events"]["overtaken"] > 0, text
    assert report["dlq"]["expected"] > 0, text
    for name, c in report["compare"].items():
        assert c["compared"] > 0, f"{name}: nothing compared\n{text}"
        assert c["wrong"] == 0, f"{name}: {c['wrong']} wrong\n{text}"
    assert report["integrity"]["lost"] == 0, text
    assert report["integrity"]["applied_twice"] == 0, text
    assert report["dlq"]["missing"] == report["dlq"]["unexpected"] == 0, text
    assert report["dlq"]["wrong_reason"] == 0, text
    assert report["ok"], text


@pytest.mark.timeout(600)
async def test_two_availability_replicas_end_where_applying_each_event_once_in_order_does(
    amqp_base_url: str, mongodb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Competing consumers on one queue, over few SKUs so that their batches write the same
    positions (write conflicts, redone transactions): every position still matches the ground
    truth, which applies each event once in event order, and both replicas did work."""
    report, text = await simulate(
        amqp_base_url,
        mongodb_url,
        monkeypatch,
        events=1500,
        rate=120,
        seed=20261128,
        skus=20,
        dup_rate=0.03,
        bad_rate=0.0,
        replicas={"availability": 2},
        command="pytest tests/e2e/test_simulation.py (two availability replicas)",
    )
    applied = {
        name: st["consumed"].get("applied", 0)
        for name, st in report["services"].items()
        if name.startswith("availability")
    }
    assert len(applied) == 2 and all(n > 0 for n in applied.values()), text
    positions = report["compare"]["positions"]
    assert positions["compared"] > 0 and positions["wrong"] == 0, text
    assert report["integrity"]["lost"] == report["integrity"]["applied_twice"] == 0, text
    assert report["ok"], text
