"""`distsync dlq ...`: the dead-letter operations for on-call staff and scripts.

Exit codes: 0 done; 1 failed (some or all messages could not be handled, broker or database
unreachable); 2 usage (bad arguments, unknown service or queue); 3 nothing matched, or the
operator declined or cancelled (Ctrl-C) -- whatever was done before that is reported and audited.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from distsync_ops import console
from distsync_ops import dlq as D
from distsync_ops.dlq_render import render_audit, render_list, render_show
from distsync_ops.dlq_run import (
    EXIT_FAILED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_USAGE,
    confirm,
    declined,
    emit,
    emit_outcome,
    exit_code,
    fail,
    run,
    run_outcome,
    settings,
)


def register(sub: Any) -> None:
    """Add `dlq` and its subcommands to the `distsync` parser."""
    p = sub.add_parser(
        "dlq",
        help="dead-letter queues: list, show, replay, archive, purge, restore, export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")

    c = dsub.add_parser("list", help="depth per service, oldest and newest, failure groups")
    c.add_argument("service", nargs="?", help="one service (default: all, and unrouted)")
    _common(c)
    c.set_defaults(fn=cmd_list)

    c = dsub.add_parser("show", help="messages with their failure headers, left in place")
    c.add_argument("service")
    c.add_argument("--limit", type=_positive, default=20, help="at most N messages (20)")
    c.add_argument("--full", action="store_true", help="whole events and stack traces")
    _selectors(c, limit=False)
    _common(c)
    c.set_defaults(fn=cmd_show)

    c = dsub.add_parser("replay", help="publish back where they came from, then remove")
    c.add_argument("service")
    _selectors(c)
    c.add_argument("--to", metavar="EXCHANGE", help="publish to this exchange instead")
    c.add_argument(
        "--direct",
        action="store_true",
        help="straight to the service's own queue, so no other service sees it again",
    )
    c.add_argument("--rate", type=_positive_float, metavar="N", help="at most N messages/s")
    c.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")
    c.add_argument("--force", action="store_true", help="also replay flagged messages")
    c.add_argument(
        "--beyond-horizon",
        action="store_true",
        help="also replay messages whose event is older than the deduplication horizon "
        "(DISTSYNC_INBOX_RETENTION_S minus DISTSYNC_DEDUP_HORIZON_MARGIN_S, as the services "
        "have them); a service dead-letters them again unless its own horizon was widened",
    )
    c.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _common(c, user=True)
    c.set_defaults(fn=cmd_replay)

    for name, purge, text in (
        ("archive", False, "copy to the archive; the messages stay"),
        ("purge", True, "copy to the archive, then remove"),
    ):
        c = dsub.add_parser(name, help=text)
        c.add_argument("service")
        _selectors(c)
        c.add_argument("--file", metavar="PATH", help="also append the archive to this JSONL file")
        c.add_argument(
            "--no-db", action="store_true", help="archive to --file only, not to MongoDB"
        )
        if purge:
            c.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        _common(c, user=True)
        c.set_defaults(fn=cmd_archive, purge=purge)

    c = dsub.add_parser("restore", help="put archived messages back into their queue")
    c.add_argument("archive", help="an archive id (from archive/purge) or a JSONL file")
    c.add_argument("--force", action="store_true", help="restore again, even if done before")
    _common(c, user=True)
    c.set_defaults(fn=cmd_restore)

    c = dsub.add_parser("export", help="the selected messages as JSONL, left in place")
    c.add_argument("service")
    _selectors(c)
    c.add_argument("--file", metavar="PATH", help="write here instead of stdout")
    _common(c)
    c.set_defaults(fn=cmd_export)

    c = dsub.add_parser("audit", help="who replayed, purged or restored what, and when")
    c.add_argument("service", nargs="?")
    c.add_argument("--limit", type=_positive, default=20)
    _common(c)
    c.set_defaults(fn=cmd_audit)

    c = dsub.add_parser(
        "serve",
        help="the same operations over HTTP (admin API)",
        description="Needs DISTSYNC_DLQ_API_TOKEN (a bearer token of 16+ characters) unless "
        "--insecure-local, which runs it without one on a loopback address only.",
    )
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8090)
    c.add_argument(
        "--insecure-local",
        action="store_true",
        default=None,
        help="a laptop run: no token needed, loopback addresses only "
        "(DISTSYNC_DLQ_API_INSECURE_LOCAL=true)",
    )
    c.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host the API answers to (repeatable; default DISTSYNC_DLQ_API_ALLOWED_HOSTS, "
        "else localhost, 127.0.0.1, ::1)",
    )
    c.add_argument("--json", action="store_true", help="announce the address as JSON")
    console.add_verbose(c)
    c.set_defaults(fn=cmd_serve)


def _common(c: argparse.ArgumentParser, *, user: bool = False) -> None:
    c.add_argument("--json", action="store_true", help="machine-readable output")
    console.add_verbose(c)
    if user:
        c.add_argument("--user", help="who is doing this, for the audit log (default: $USER)")


def _selectors(c: argparse.ArgumentParser, *, limit: bool = True) -> None:
    g = c.add_argument_group("which messages (none: all of them)")
    g.add_argument("--id", action="append", default=[], help="CloudEvent id (repeatable)")
    g.add_argument("--type", action="append", default=[], help="event type, globs ok")
    g.add_argument("--group", action="append", default=[], help="failure group from `list`")
    g.add_argument("--since", type=_time, help="last failure at/after: ISO time or age (2h)")
    g.add_argument("--until", type=_time, help="last failure before: ISO time or age")
    if limit:
        g.add_argument("--limit", type=_positive, help="at most N messages, in queue order")


def _positive(v: str) -> int:
    n = int(v)
    if n <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return n


def _positive_float(v: str) -> float:
    n = float(v)
    if n <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return n


def _time(v: str) -> datetime:
    try:
        return D.parse_time(v)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def selector_of(args: argparse.Namespace) -> D.Selector:
    return D.Selector(
        ids=tuple(args.id),
        types=tuple(args.type),
        groups=tuple(args.group),
        since=args.since,
        until=args.until,
        limit=getattr(args, "limit", None),
    )


def cmd_list(args: argparse.Namespace) -> int:
    s = settings(args)
    code, res = run(args, lambda: D.list_queues(s, _targets(args.service)))
    if res is None:
        return exit_code(code)
    if args.service and res[0].error:
        fail(args, res[0].error, EXIT_USAGE)
        return EXIT_USAGE
    emit(args, [q.as_dict() for q in res], lambda: render_list(res, s.dlq_flag_replays))
    return EXIT_FAILED if any(q.error for q in res) else EXIT_OK


def _targets(service: str | None) -> list[str]:
    return [service] if service else D.known_targets()


def cmd_show(args: argparse.Namespace) -> int:
    s = settings(args)
    sel = selector_of(args)
    code, msgs = run(args, lambda: D.show(s, args.service, limit=args.limit, selector=sel))
    if msgs is None:
        return exit_code(code)
    flag = s.dlq_flag_replays
    emit(
        args,
        [m.summary(flag) for m in msgs],
        lambda: render_show(msgs, flag, full=args.full) or "(no messages)",
    )
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    s = settings(args)
    sel = selector_of(args)
    if args.to is not None and args.direct:
        fail(args, "--to and --direct contradict each other", EXIT_USAGE)
        return EXIT_USAGE
    opts = D.ReplayOptions(
        to=args.to,
        direct=args.direct,
        rate=args.rate,
        dry_run=args.dry_run,
        force=args.force,
        beyond_horizon=args.beyond_horizon,
    )
    if not args.dry_run and sel.is_all and sel.limit is None:
        where = "their own queue" if args.direct else (args.to or "where they came from")
        if not confirm(args, f"Replay ALL messages of {D.queue_of(args.service)} to {where}?"):
            return declined(args)
    return run_outcome(
        args,
        "replay",
        lambda o, bar: D.replay(
            s, args.service, sel, opts, user=args.user, progress=bar, outcome=o
        ),
    )


def cmd_archive(args: argparse.Namespace) -> int:
    s = settings(args)
    sel = selector_of(args)
    if args.purge:
        what = "ALL messages" if sel.is_all else "the selected messages"
        question = f"Archive, then REMOVE {what} of {D.queue_of(args.service)}?"
        if not confirm(args, question):
            return declined(args)
    return run_outcome(
        args,
        "purge" if args.purge else "archive",
        lambda o, bar: D.archive(
            s,
            args.service,
            sel,
            purge=args.purge,
            file=args.file,
            use_db=not args.no_db,
            user=args.user,
            progress=bar,
            outcome=o,
        ),
    )


def cmd_restore(args: argparse.Namespace) -> int:
    s = settings(args)
    return run_outcome(
        args,
        "restore",
        lambda o, bar: D.restore(
            s, args.archive, force=args.force, user=args.user, progress=bar, outcome=o
        ),
    )


def cmd_export(args: argparse.Namespace) -> int:
    s = settings(args)
    sel = selector_of(args)

    async def go() -> D.Outcome:
        if args.file:
            with open(args.file, "w", encoding="utf-8") as fh:  # noqa: ASYNC230
                return await D.export(s, args.service, sel, fh)
        return await D.export(s, args.service, sel, sys.stdout)

    code, o = run(args, go)
    if o is None:
        return exit_code(code)
    if args.file:
        emit_outcome(args, o)
    return EXIT_OK if o.matched else EXIT_NOTHING


def cmd_audit(args: argparse.Namespace) -> int:
    s = settings(args)
    code, entries = run(args, lambda: D.audit_log(s, args.limit, args.service))
    if entries is None:
        return exit_code(code)
    emit(args, entries, lambda: render_audit(entries))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from distsync_ops.dlq_api import InsecureStart, check_start, serve

    console.configure_logging(verbose=True)  # a server: its log (the audit lines) at INFO
    update: dict[str, Any] = {}
    if args.insecure_local:
        update["dlq_api_insecure_local"] = True
    if args.allowed_host:
        update["dlq_api_allowed_hosts"] = args.allowed_host
    s = settings(args).model_copy(update=update)
    try:
        check_start(s, args.host)
    except InsecureStart as e:
        fail(args, str(e), EXIT_USAGE)
        return EXIT_USAGE
    url = f"http://{args.host}:{args.port}"
    if args.json:
        print(json.dumps({"ok": True, "url": url, "docs": url + "/docs"}), flush=True)
    else:
        print(f"dlq admin API on {url} (OpenAPI: {url}/docs)", flush=True)
    serve(args.host, args.port, s)
    return EXIT_OK
