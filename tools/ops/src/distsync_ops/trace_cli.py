"""`distsync trace CORRELATIONID`: the event chain of one business flow across all services."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from distsync_ops import console, trace


def cmd_trace(args: argparse.Namespace) -> int:
    from shared.runtime import mongo_client
    from shared.settings import ServiceSettings

    console.configure_logging(console.verbose(args))
    if args.mongodb_url:
        url = args.mongodb_url
        if console.verbose(args):
            console.say("distsync trace: mongodb_url: --mongodb-url")
    else:
        r = console.resolved(args, "distsync trace")
        url = r.values.get("mongodb_url") or ServiceSettings().mongodb_url
    try:
        dbs = trace.database_names()
    except ValueError as e:
        print(f"trace: {e}", file=sys.stderr)
        return 2

    async def go() -> trace.Trace:
        client = mongo_client(url)
        try:
            return await trace.collect(client, dbs, args.correlationid)
        finally:
            await client.close()

    result = asyncio.run(go())
    found = bool(result.events)
    if args.json:
        print(json.dumps({"ok": found, **result.to_dict()}, sort_keys=True))
    elif found:
        print(trace.format_text(result))
    else:
        print(f"no events with correlationid {args.correlationid!r}", file=sys.stderr)
        for service, err in sorted(result.unreachable.items()):
            print(f"warning: {service} store unreachable: {err}", file=sys.stderr)
    return 0 if found else 1


def register(sub: Any) -> None:
    t = sub.add_parser(
        "trace",
        help="show one correlationid's event chain across every service's inbox and outbox",
        description="Reads the inbox and outbox of each service database: distsync_<service>, "
        f"or the JSON object in ${trace.DBS_ENV} ({{service: database}}). MONGODB_URL selects "
        "the server (else the one `distsync up` started, found in .data/stack.json); the user "
        "needs read access to every service database.",
    )
    t.add_argument("correlationid")
    t.add_argument(
        "--mongodb-url",
        default=None,
        help="default: MONGODB_URL, else the database of the running `distsync up`",
    )
    t.add_argument("--json", action="store_true")
    console.add_verbose(t)
    t.set_defaults(fn=cmd_trace)
