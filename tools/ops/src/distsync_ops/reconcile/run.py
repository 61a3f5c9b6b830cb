"""The `distsync reconcile` commands: options checked, inputs opened, results printed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distsync_ops import console
from distsync_ops.reconcile import counts, governed, orders, record, report, stock
from distsync_ops.reconcile.quantities import iso, parse_qty, parse_time, to_micro
from distsync_ops.reconcile.rows import InputError

OK, BEYOND, USAGE, FAILED = 0, 1, 2, 3
AVAILABILITY_DB_ENV = "DISTSYNC_RECONCILE_AVAILABILITY_DB"
ORDER_STATUS_DB_ENV = "DISTSYNC_RECONCILE_ORDER_STATUS_DB"


def _err(msg: str) -> None:
    print(f"reconcile: {msg}", file=sys.stderr)


def _url(args: argparse.Namespace, name: str) -> str:
    from shared.settings import ServiceSettings

    given = getattr(args, name, None)
    if given:
        return str(given)
    found = console.resolved(args, "distsync reconcile").values.get(name)
    return found or str(getattr(ServiceSettings(), name))


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


@contextlib.contextmanager
def local_file(where: str) -> Iterator[Path]:
    """A path as given, or an http(s) URL downloaded (streamed) to a temporary file."""
    if not where.startswith(("http://", "https://")):
        yield Path(where)
        return
    with tempfile.TemporaryDirectory(prefix="distsync-reconcile-") as tmp:
        name = Path(where.split("?", 1)[0]).name or "snapshot"
        path = Path(tmp) / name
        try:
            with urllib.request.urlopen(where, timeout=60) as resp, open(path, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
        except OSError as e:
            raise InputError(f"cannot download {where}: {e}") from e
        yield path


async def _record(args: argparse.Namespace, client: Any, summary: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if args.record:
        try:
            await record.store_run(client, summary)
        except Exception as e:
            problems.append(f"summary not stored: {e!r}")
    gateway = args.pushgateway or os.environ.get(record.PUSHGATEWAY_ENV)
    if gateway and args.record:
        try:
            await asyncio.to_thread(record.push, gateway, summary)
        except Exception as e:
            problems.append(f"metrics not pushed to {gateway}: {e!r}")
    return problems


def cmd_stock(args: argparse.Namespace) -> int:
    console.configure_logging(console.verbose(args))
    try:
        if args.publish_counts:
            return _publish(args)
        if not args.snapshot:
            raise InputError("give a SNAPSHOT (or --publish-counts --plan FILE)")
        if args.plan and not (args.requested_by or "").strip():
            raise InputError("--plan needs --requested-by NAME")
        tolerance = to_micro(parse_qty(args.tolerance, "--tolerance"))
        as_of = parse_time(args.as_of) if args.as_of else datetime.now(UTC)
        if args.top < 0 or (args.tolerance_rate is not None and args.tolerance_rate < 0):
            raise InputError("--top and --tolerance-rate must not be negative")
    except (InputError, ValueError) as e:
        _err(str(e))
        return USAGE
    opts = stock.StockOptions(
        as_of=as_of,
        tolerance=tolerance,
        tolerance_rate=args.tolerance_rate,
        complete=not args.partial,
        sku_prefix=args.sku_prefix,
        top=args.top,
        progress=_progress(args),
    )
    db_name = args.availability_db or os.environ.get(AVAILABILITY_DB_ENV) or "distsync_availability"
    return asyncio.run(_stock(args, opts, db_name))


async def _stock(args: argparse.Namespace, opts: stock.StockOptions, db_name: str) -> int:
    from shared.runtime import mongo_client

    client = mongo_client(_url(args, "mongodb_url"))
    plan: counts.PlanWriter | None = None
    try:
        with local_file(args.snapshot) as path:
            if args.plan:
                plan = counts.PlanWriter(
                    Path(args.plan),
                    requested_by=args.requested_by.strip(),
                    snapshot=args.snapshot,
                    tolerance=opts.tolerance,
                )
            tally = await stock.reconcile_stock(
                path,
                client[db_name],
                opts,
                on_key=plan.consider if plan is not None else None,
                csv_path=Path(args.csv) if args.csv else None,
            )
        summary = report.stock_summary(tally, snapshot=args.snapshot, as_of=opts.as_of)
        if plan is not None:
            summary["plan"] = {"path": args.plan, "counts": plan.count, "sha256": plan.close()}
            plan = None
            if summary["plan"]["counts"]:
                summary["plan"]["approval"] = await governed.request(
                    client[governed.admin_db_name()],
                    summary["plan"],
                    args.requested_by.strip(),
                    args.snapshot,
                )
        problems = await _record(args, client, summary)
    except InputError as e:
        _err(str(e))
        return USAGE
    except OSError as e:
        _err(str(e))
        return USAGE
    except Exception as e:  # the database, mostly
        _err(f"could not complete: {e!r}")
        return FAILED
    finally:
        if plan is not None:  # not closed: the run failed
            plan.abort()
        await client.close()
    print(json.dumps(summary, default=str) if args.json else report.stock_text(tally))
    if "plan" in summary and not args.json:
        p = summary["plan"]
        print(f"\ncount plan: {p['counts']:,} counts written to {p['path']} (sha256 {p['sha256']})")
        if p.get("approval"):
            print(
                f"approval request {p['approval']}: another person approves it "
                f"(POST /v1/dlq/approvals/{p['approval']}/approve), then "
                f"--publish-counts --plan {p['path']} --approval {p['approval']}"
            )
    for p in problems:
        _err(p)
    return OK if tally.ok() else BEYOND


def _publish(args: argparse.Namespace) -> int:
    if not args.plan:
        raise InputError("--publish-counts needs --plan FILE (written and reviewed first)")
    if args.snapshot:
        raise InputError("--publish-counts publishes a plan; give no SNAPSHOT")
    if not args.source:
        raise InputError("--publish-counts needs --source NAME")
    plan = counts.read_plan(Path(args.plan))
    if args.approval:
        return asyncio.run(_publish_approved(args, plan))
    if os.environ.get("DISTSYNC_AUTH_MODE", "").strip().lower() != "open":
        raise InputError(
            "--publish-counts needs --approval ID: the plan's approval request, approved by "
            "another person through the admin API (--approved-by NAME is for a lab running "
            "DISTSYNC_AUTH_MODE=open)"
        )
    counts.check_approval(plan, args.approved_by, args.requested_by)
    code: int = _publish_plan(args, plan, args.approved_by.strip())
    return code


async def _publish_approved(args: argparse.Namespace, plan: counts.Plan) -> int:
    from shared.runtime import mongo_client

    client = mongo_client(_url(args, "mongodb_url"))
    try:
        db = client[governed.admin_db_name()]
        try:
            approver, doc = await governed.approver_of(db, args.approval, plan.digest)
        except InputError as e:
            _err(str(e))
            return USAGE
        code, result = await asyncio.to_thread(_publish_plan, args, plan, approver, True)
        if result is not None:
            await governed.published(db, args.approval, doc, result)
        return int(code)
    finally:
        await client.close()


def _publish_plan(
    args: argparse.Namespace, plan: counts.Plan, approved_by: str, detailed: bool = False
) -> Any:
    evs = counts.events(plan, source=counts.source_of(args.source), approved_by=approved_by)
    try:
        confirmed, problems = asyncio.run(counts.publish(_url(args, "amqp_url"), evs))
    except Exception as e:
        _err(f"could not publish: {e!r}")
        return (FAILED, None) if detailed else FAILED
    result = {
        "ok": not problems,
        "plan": args.plan,
        "sha256": plan.digest,
        "requested_by": plan.requested_by,
        "approved_by": approved_by,
        "source": counts.source_of(args.source),
        "published": confirmed,
        "planned": len(evs),
        "problems": problems,
        "at": iso(datetime.now(UTC)),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{confirmed:,} of {len(evs):,} inventory.counted events confirmed by the broker")
        for p in problems:
            print(f"  not published: {p}")
    code = OK if not problems else FAILED
    return (code, result) if detailed else code


def cmd_orders(args: argparse.Namespace) -> int:
    console.configure_logging(console.verbose(args))
    try:
        mapping = orders.load_mapping(Path(args.mapping))
        as_of = parse_time(args.as_of) if args.as_of else None
        if args.tolerance < 0:
            raise InputError("--tolerance must not be negative")
    except (InputError, ValueError) as e:
        _err(str(e))
        return USAGE
    db_name = args.order_status_db or os.environ.get(ORDER_STATUS_DB_ENV) or "distsync_order_status"
    return asyncio.run(_orders(args, mapping, as_of, db_name))


async def _orders(
    args: argparse.Namespace, mapping: dict[str, str | None], as_of: datetime | None, db_name: str
) -> int:
    from shared.runtime import mongo_client

    client = mongo_client(_url(args, "mongodb_url"))
    try:
        with local_file(args.export) as path:
            res = await orders.reconcile_orders(
                path,
                client[db_name],
                mapping,
                as_of=as_of,
                tolerance=args.tolerance,
                progress=_progress(args),
            )
        summary = orders.orders_summary(res, export=args.export)
        problems = await _record(args, client, summary)
    except (InputError, OSError) as e:
        _err(str(e))
        return USAGE
    except Exception as e:
        _err(f"could not complete: {e!r}")
        return FAILED
    finally:
        await client.close()
    if args.csv:
        _orders_csv(Path(args.csv), res)
    print(json.dumps(summary, default=str) if args.json else orders.orders_text(res))
    for p in problems:
        _err(p)
    return OK if res.ok() else BEYOND


def _orders_csv(path: Path, res: orders.OrdersResult) -> None:
    rows = [d.to_dict() for d in res.disagreements]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["order_id"])
        w.writeheader()
        w.writerows(rows)


def cmd_status(args: argparse.Namespace) -> int:
    from shared.runtime import mongo_client

    console.configure_logging(console.verbose(args))

    async def go() -> dict[str, dict[str, Any]]:
        client = mongo_client(_url(args, "mongodb_url"))
        try:
            return await record.last_runs(client)
        finally:
            await client.close()

    try:
        runs = asyncio.run(go())
    except Exception as e:
        _err(f"could not read the recorded runs: {e!r}")
        return FAILED
    now = datetime.now(UTC)
    stale = not runs
    out: dict[str, Any] = {}
    for kind, r in runs.items():
        age_h = (now - r["last"]["at"]).total_seconds() / 3600
        stale = stale or age_h > args.max_age
        out[kind] = {**r["last"], "age_hours": round(age_h, 2), "last_ok_at": r["last_ok_at"]}
    if args.json:
        print(json.dumps({"ok": not stale, "runs": out}, default=str))
    elif not out:
        print("no reconciliation recorded yet")
    else:
        for kind, r in out.items():
            state = "within tolerance" if r.get("ok") else "beyond tolerance"
            print(f"{kind}: last run {iso(r['at'])} ({r['age_hours']} h ago), {state}")
    return BEYOND if stale else OK
