"""`distsync simulate --snapshot`: the simulated distributor's ground truth exported as a stock
snapshot with drift injected, and `distsync reconcile stock` run on it against the real
services' positions finds exactly that drift, nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from distsync_sim.simulate.report import render_text
from distsync_sim.simulate.runner import Options, run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_reconcile_finds_exactly_the_drift_injected_into_the_truths_snapshot(
    amqp_base_url: str, mongodb_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AMQP_URL", amqp_base_url)
    monkeypatch.setenv("MONGODB_URL", mongodb_url)
    report = await run(
        Options(
            events=400,
            rate=0,
            seed=20261204,
            skus=30,
            spawn=True,
            progress=False,
            dup_rate=0.02,
            bad_rate=0.0,
            service_env={"DISTSYNC_MAX_ATTEMPTS": "2"},
            snapshot=str(tmp_path / "snapshot.csv"),
            snapshot_drift=9,
            command="pytest tools/sim/tests/integration/test_simulate_reconcile.py",
        )
    )
    text = render_text(report)
    rc = report["reconcile"]
    assert rc is not None, text
    assert rc["injected"] == 9 and rc["rows"] > 30, text
    assert rc["found"] == rc["injected"] + rc["negative_in_truth"], rc
    assert rc["missing"] == rc["invented"] == rc["wrong_size"] == [], rc
    assert rc["bad_rows"] == 0 and rc["ok"], rc
    kinds = {d["kind"] for d in rc["drift"]}
    assert {"changed", "dropped", "phantom"} <= kinds
    assert report["ok"], text
