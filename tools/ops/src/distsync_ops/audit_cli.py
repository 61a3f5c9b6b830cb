"""`distsync audit export`: the audit log (every DLQ operation, approval and export through the
admin API) as JSON lines or CSV, read from the admin database (`MONGODB_URL`,
`DISTSYNC_ADMIN_DB`). The export itself is recorded in the log, under the local user's name.

Exit codes: 0 written; 1 the database cannot be read; 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from distsync_ops import console
from distsync_ops import dlq as D
from shared.auth.audit import AuditLog, to_csv, to_jsonl
from shared.auth.identity import Identity


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="the audit log: export it as JSON lines or CSV")
    asub = p.add_subparsers(dest="audit_action", required=True, metavar="ACTION")
    c = asub.add_parser(
        "export",
        help="write audit entries, newest first",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    c.add_argument("--since", type=_time, help="entries at or after (ISO 8601 or an age: 24h)")
    c.add_argument("--until", type=_time, help="entries before this time")
    c.add_argument("--action", help="action prefix, e.g. `dlq.` or `dlq.approval`")
    c.add_argument("--limit", type=int, default=100_000, help="at most N entries (100000)")
    c.add_argument("--output", "-o", metavar="PATH", help="write here instead of stdout")
    console.add_verbose(c)
    c.set_defaults(fn=cmd_export)


def _time(text: str) -> datetime:
    try:
        return D.parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


async def export(s: D.DlqSettings, args: argparse.Namespace, out: TextIO) -> int:
    admin = D.Admin(s)
    try:
        log = AuditLog(admin.db)
        entries = [
            e
            async for e in log.entries(
                since=args.since, until=args.until, action=args.action, limit=args.limit
            )
        ]
        n = (to_csv if args.format == "csv" else to_jsonl)(entries, out)
        user = D.who()
        sel = {k: str(getattr(args, k)) for k in ("since", "until", "action") if getattr(args, k)}
        await log.record(
            Identity(user, user, "cli"),
            "audit.export",
            "audit",
            result="done",
            selector=sel,
            counts={"entries": n},
            detail={"format": args.format, "output": args.output or "stdout"},
        )
        return n
    finally:
        await admin.close()


def cmd_export(args: argparse.Namespace) -> int:
    console.configure_logging(console.verbose(args))
    if args.limit <= 0:
        print("distsync audit: --limit must be positive", file=sys.stderr)
        return 2
    found: dict[str, Any] = dict(console.resolved(args, "distsync audit").values)
    s = D.DlqSettings(**found)
    try:
        if args.output:
            with Path(args.output).open("w", encoding="utf-8", newline="") as f:
                n = asyncio.run(export(s, args, f))
        else:
            n = asyncio.run(export(s, args, sys.stdout))
    except Exception as e:
        print(
            f"distsync audit: cannot read the audit log: {type(e).__name__}: {e}", file=sys.stderr
        )
        return 1
    print(f"distsync audit: {n} entries", file=sys.stderr)
    return 0
