"""`distsync reconcile stock|orders|status`: the command line (run.py does the work)."""

from __future__ import annotations

import argparse
from typing import Any

from distsync_ops import console

EPILOG = (
    "Exit status: 0 within the tolerance, 1 beyond it, 2 usage or input error (bad options, "
    "unreadable file or header, a changed plan), 3 the reconciliation could not run (database "
    "or broker unreachable, publication not confirmed). Bad rows are reported with their line "
    "numbers and do not stop the run. See docs/reconciliation.md."
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--csv", metavar="FILE", default=None, help="also write the findings as CSV")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress lines on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--mongodb-url", default=None, help="default: MONGODB_URL, else the running `distsync up`"
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="store the run's summary in the operations database (and push it to the "
        "Pushgateway when one is configured): what the scheduled job does",
    )
    p.add_argument(
        "--pushgateway", default=None, help="Prometheus Pushgateway URL (DISTSYNC_PUSHGATEWAY_URL)"
    )
    console.add_verbose(p)


def register(sub: Any) -> None:
    from distsync_ops.reconcile import run

    r = sub.add_parser(
        "reconcile",
        help="compare distsync's stock or order statuses with another system's",
        description="Compare an ERP or WMS stock snapshot, or an old system's order export, "
        "with what distsync holds at the same time.",
        epilog=EPILOG,
    )
    rs = r.add_subparsers(dest="reconcile_command", required=True)

    s = rs.add_parser(
        "stock",
        help="a stock snapshot (CSV sku,location,qty[,uom,as_of,quarantined] or JSON lines)",
        epilog=EPILOG,
    )
    s.add_argument("snapshot", nargs="?", default=None, help="file path or http(s) URL")
    s.add_argument("--as-of", default=None, help="time of rows without as_of (default: now)")
    s.add_argument(
        "--tolerance", default="0", help="per-key variance accepted, in base units (default 0)"
    )
    s.add_argument(
        "--tolerance-rate",
        type=float,
        default=None,
        help="a location whose |variance| / snapshot on-hand is at most this passes as a whole",
    )
    s.add_argument(
        "--partial",
        action="store_true",
        help="the snapshot lists only some SKUs: positions it does not list are not compared "
        "(default: it is complete for its locations, and unlisted positions count as 0 there)",
    )
    s.add_argument("--sku-prefix", default="", help="only positions of SKUs with this prefix")
    s.add_argument("--top", type=int, default=20, help="largest variances shown (default 20)")
    s.add_argument("--availability-db", default=None, help="default: distsync_availability")
    s.add_argument(
        "--plan", metavar="FILE", default=None, help="the count plan to write or publish"
    )
    s.add_argument("--requested-by", default=None, help="who asks for the counts (with --plan)")
    s.add_argument(
        "--publish-counts",
        action="store_true",
        help="publish the reviewed --plan as inventory.counted events (needs --approval ID, "
        "approved by another person through the admin API, and --source)",
    )
    s.add_argument(
        "--approval",
        default=None,
        help="the plan's approval request (filed when the plan was written), once approved",
    )
    s.add_argument(
        "--approved-by",
        default=None,
        help="a lab only (DISTSYNC_AUTH_MODE=open): the second person's name, unverified",
    )
    s.add_argument("--source", default=None, help="the events' source: NAME means wms/NAME")
    s.add_argument("--amqp-url", default=None, help="default: AMQP_URL, else `distsync up`'s")
    _common(s)
    s.set_defaults(fn=run.cmd_stock)

    o = rs.add_parser("orders", help="an old system's order statuses", epilog=EPILOG)
    o.add_argument("export", help="CSV order_id,status[,as_of] or JSON lines")
    o.add_argument(
        "--mapping", required=True, help='JSON {"<old status>": "<canonical status>" | null}'
    )
    o.add_argument("--as-of", default=None, help="time of rows without as_of (default: current)")
    o.add_argument("--tolerance", type=int, default=0, help="orders out of step accepted")
    o.add_argument("--order-status-db", default=None, help="default: distsync_order_status")
    _common(o)
    o.set_defaults(fn=run.cmd_orders)

    st = rs.add_parser("status", help="the last recorded runs and their age")
    st.add_argument(
        "--max-age", type=float, default=26.0, help="hours; older than this exits 1 (default 26)"
    )
    st.add_argument("--json", action="store_true")
    st.add_argument("--mongodb-url", default=None)
    console.add_verbose(st)
    st.set_defaults(fn=run.cmd_status)
