"""Each scheduled run's figures, kept where the alerts can find them.

A CronJob's pod lives for one run, so Prometheus cannot scrape it reliably. Every run with
`--record` therefore writes its summary to MongoDB (`<ops database>.reconcile_runs`, the
history and the source of truth, readable with `distsync reconcile status`), and, when a
Pushgateway is configured (`--pushgateway URL` or `DISTSYNC_PUSHGATEWAY_URL`), replaces the
job's metrics there. The Pushgateway keeps the last values until the next push, which is what
the "last reconciliation too old" alert needs: the timestamp simply stops moving.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

RUNS = "reconcile_runs"
OPS_DB_ENV = "DISTSYNC_RECONCILE_DB"
DEFAULT_OPS_DB = "distsync_admin"  # the DLQ tools' database: one operations database
PUSHGATEWAY_ENV = "DISTSYNC_PUSHGATEWAY_URL"
JOB = "distsync_reconcile"


def ops_db_name() -> str:
    return os.environ.get(OPS_DB_ENV) or DEFAULT_OPS_DB


async def store_run(client: Any, summary: dict[str, Any], db_name: str | None = None) -> Any:
    """The summary without its long lists, with the time of the run; returns its id."""
    doc = {k: v for k, v in summary.items() if k not in ("largest", "bad", "disagreements")}
    doc["at"] = datetime.now(UTC)
    db = client[db_name or ops_db_name()]
    await db[RUNS].create_index([("kind", 1), ("at", -1)])
    res = await db[RUNS].insert_one(doc)
    return res.inserted_id


async def last_runs(client: Any, db_name: str | None = None) -> dict[str, dict[str, Any]]:
    """The latest run of each kind (stock, orders), and the latest successful one."""
    db = client[db_name or ops_db_name()]
    out: dict[str, dict[str, Any]] = {}
    for kind in ("stock", "orders"):
        last = await db[RUNS].find_one({"kind": kind}, sort=[("at", -1)])
        good = await db[RUNS].find_one({"kind": kind, "ok": True}, sort=[("at", -1)])
        if last is not None:
            last.pop("_id", None)
            out[kind] = {"last": last, "last_ok_at": good["at"] if good else None}
    return out


def registry_for(summary: dict[str, Any]) -> Any:
    """The run's figures as Prometheus metrics (names in docs/reconciliation.md)."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    kind = str(summary["kind"])
    now = datetime.now(UTC).timestamp()
    Gauge(
        "distsync_reconcile_last_run_timestamp_seconds",
        "When the last reconciliation of this kind finished",
        ["kind"],
        registry=reg,
    ).labels(kind).set(now)
    Gauge(
        "distsync_reconcile_within_tolerance",
        "1 when the last reconciliation of this kind was within its tolerance",
        ["kind"],
        registry=reg,
    ).labels(kind).set(1 if summary.get("ok") else 0)
    Gauge(
        "distsync_reconcile_bad_rows",
        "Rows of the input that could not be used",
        ["kind"],
        registry=reg,
    ).labels(kind).set(float(summary.get("bad_rows") or 0))
    if kind == "orders":
        Gauge(
            "distsync_reconcile_orders_out_of_step",
            "Orders whose status in the old system disagrees with distsync's",
            registry=reg,
        ).set(float(summary.get("out_of_step") or 0))
        return reg
    g = {
        name: Gauge(name, text, ["location"], registry=reg)
        for name, text in (
            ("distsync_reconcile_variance_units", "Sum of |snapshot - distsync| on-hand"),
            ("distsync_reconcile_net_variance_units", "Sum of snapshot - distsync on-hand"),
            ("distsync_reconcile_variance_rate", "Sum of |variance| / snapshot on-hand"),
            ("distsync_reconcile_keys_beyond_tolerance", "SKUs beyond the tolerance"),
            ("distsync_reconcile_not_comparable", "SKUs that could not be placed at as_of"),
        )
    }
    for loc in summary.get("locations") or ():
        lbl = str(loc["location"])
        g["distsync_reconcile_variance_units"].labels(lbl).set(loc["absolute_variance"])
        g["distsync_reconcile_net_variance_units"].labels(lbl).set(loc["net_variance"])
        rate = loc["variance_rate"]
        g["distsync_reconcile_variance_rate"].labels(lbl).set(
            float("inf") if rate is None else rate
        )
        g["distsync_reconcile_keys_beyond_tolerance"].labels(lbl).set(loc["keys_beyond_tolerance"])
        g["distsync_reconcile_not_comparable"].labels(lbl).set(loc["not_comparable"])
    return reg


def push(url: str, summary: dict[str, Any]) -> None:
    """Replace this kind's group on the Pushgateway (blocking; raises on failure)."""
    from prometheus_client import push_to_gateway

    push_to_gateway(
        url,
        job=JOB,
        grouping_key={"kind": str(summary["kind"])},
        registry=registry_for(summary),
        timeout=10,
    )
