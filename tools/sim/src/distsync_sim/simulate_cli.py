"""`distsync simulate`: the simulated distributor; exits non-zero on any wrong result."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="run the simulated distributor against the services and check every result",
        description=(
            "Publishes a seeded regional distributor's events (ERP, WMS, carriers, portal) with "
            "duplicates, reordering and bad messages, waits until the services have drained, "
            "then compares every position and status with the ground truth. Exit status 0 "
            "only when nothing is wrong, lost, applied twice or unexpectedly dead-lettered."
        ),
    )
    p.add_argument("--events", type=int, default=10_000, help="business events (default 10000)")
    p.add_argument("--rate", type=float, default=200.0, help="events/s; 0 = as fast as possible")
    p.add_argument("--duration", type=float, default=None, help="stop publishing after S seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skus", type=int, default=None, help="catalog size (default: events/40)")
    p.add_argument(
        "--chaos",
        action="store_true",
        help="SIGKILL a service and restart it, restart RabbitMQ (local only), stop the "
        "database for a few seconds (only one the simulator started)",
    )
    p.add_argument(
        "--chaos-actions",
        default=None,
        help="comma-separated subset: kill[:SERVICE], broker, database (implies --chaos)",
    )
    p.add_argument(
        "--spawn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start SecantusDB and the services (default: only if nothing answers on 8001-8005)",
    )
    p.add_argument(
        "--replicas",
        action="append",
        default=None,
        metavar="N|SERVICE=N",
        help="spawned processes per consuming service: N for each, or SERVICE=N "
        "(comma-separated or repeated; default 1)",
    )
    p.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="DISTSYNC_PARTITIONS of every spawned service (default: the services' own, 1)",
    )
    p.add_argument("--dup-rate", type=float, default=0.02, help="share of events sent twice")
    p.add_argument("--bad-rate", type=float, default=0.002, help="bad messages per event")
    p.add_argument("--window", type=int, default=8, help="reordering window, in events")
    p.add_argument("--drain-timeout", type=float, default=None, help="seconds (default: scaled)")
    p.add_argument("--workdir", default=None, help="keep logs and data here")
    p.add_argument("--keep", action="store_true", help="keep the work dir even when all is well")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--report", default=None, help="also write the report here (.md or .json)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--snapshot",
        default=None,
        metavar="FILE",
        help="write the ground truth's stock snapshot (CSV) here and check that `distsync "
        "reconcile stock` finds exactly the drift injected into it",
    )
    p.add_argument(
        "--snapshot-drift", type=int, default=10, help="positions the snapshot gets wrong"
    )
    p.set_defaults(fn=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    import logging

    from distsync_sim.simulate.report import render_markdown, render_text
    from distsync_sim.simulate.runner import Options, command_line, run

    for noisy in ("aio_pika", "aiormq"):  # reconnect chatter while the broker restarts
        logging.getLogger(noisy).setLevel(logging.CRITICAL)

    from distsync_sim.simulate.scale import partitions_env, replica_counts

    actions = tuple(a for a in (args.chaos_actions or "").split(",") if a) or None
    try:
        replicas = replica_counts(args.replicas)
        service_env = partitions_env(args.partitions)
    except ValueError as e:
        print(f"simulate: {e}", file=sys.stderr)
        return 2
    opts = Options(
        events=args.events,
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        skus=args.skus,
        chaos=args.chaos or bool(actions),
        chaos_actions=actions,
        spawn=args.spawn,
        dup_rate=args.dup_rate,
        bad_rate=args.bad_rate,
        window=args.window,
        drain_timeout=args.drain_timeout,
        progress=not args.no_progress,
        workdir=args.workdir,
        keep=args.keep,
        command=command_line(),
        snapshot=args.snapshot,
        snapshot_drift=args.snapshot_drift,
        replicas=replicas,
        service_env=service_env,
    )
    try:
        report = asyncio.run(run(opts))
    except KeyboardInterrupt:
        print("simulate: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        msg = {"ok": False, "error": repr(e)}
        print(json.dumps(msg) if args.json else f"simulate failed: {e!r}")
        return 1
    if args.report:
        path = Path(args.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render_markdown(report) if path.suffix == ".md" else json.dumps(report, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(render_text(report))
    return 0 if report["ok"] else 1
