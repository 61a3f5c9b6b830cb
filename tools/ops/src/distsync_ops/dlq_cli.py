"""`distsync dlq ...`: the dead-letter operations for on-call staff and scripts.

Exit codes: 0 done; 1 failed (some or all messages could not be handled, broker or database
unreachable); 2 usage (bad arguments, unknown service or queue); 3 nothing matched, or the
operator declined or cancelled (Ctrl-C) -- whatever was done before that is reported and audited.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from distsync_ops import console
from distsync_ops import dlq as D

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3
EXIT_INTERRUPTED = -1  # internal: reported as EXIT_NOTHING after saying what was done
T = TypeVar("T")


# --- arguments --------------------------------------------------------------------------------


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


# --- running ----------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> D.DlqSettings:
    """From the environment, else the stack `distsync up` runs, else the defaults."""
    found: dict[str, Any] = dict(console.resolved(args, "distsync dlq").values)
    return D.DlqSettings(**found)


def run(args: argparse.Namespace, make: Callable[[], Awaitable[T]]) -> tuple[int, T | None]:
    """Run one operation; map failures to exit codes (an interrupted run reports what it did).
    Log lines (the audit line among them) go to stderr, warnings only unless --verbose."""
    console.configure_logging(console.verbose(args))
    try:
        return EXIT_OK, asyncio.run(_run(make))
    except KeyboardInterrupt:
        print("distsync dlq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED, None
    except D.NothingToDo as e:
        _fail(args, str(e), EXIT_NOTHING)
        return EXIT_NOTHING, None
    except D.UsageError as e:
        _fail(args, str(e), EXIT_USAGE)
        return EXIT_USAGE, None
    except Exception as e:
        _fail(args, f"{type(e).__name__}: {e}", EXIT_FAILED)
        return EXIT_FAILED, None


async def _run(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _code(code: int) -> int:
    return EXIT_NOTHING if code == EXIT_INTERRUPTED else code


def _fail(args: argparse.Namespace, text: str, code: int) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": text, "exit_code": code}))
    print(f"distsync dlq: {text}", file=sys.stderr)


def _targets(service: str | None) -> list[str]:
    return [service] if service else D.known_targets()


def confirm(args: argparse.Namespace, question: str) -> bool:
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        print(f"distsync dlq: {question} -- not a terminal: add --yes to go ahead", file=sys.stderr)
        return False
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


class ProgressBar:
    """`[#####-----] 120/400 scanned  100 done  312/s` on stderr, only on a terminal."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, o: D.Outcome) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        total = max(o.depth, o.scanned, 1)
        filled = int(30 * min(o.scanned, total) / total)
        rate = o.done / max(now - o.started, 1e-6)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'-' * (30 - filled)}] {o.scanned}/{total} scanned"
            f"  {o.done} done  {o.failed} failed  {rate:,.0f}/s "
        )
        sys.stderr.flush()
        self._drawn = True

    def end(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- commands ---------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    s = _settings(args)
    code, res = run(args, lambda: D.list_queues(s, _targets(args.service)))
    if res is None:
        return _code(code)
    if args.service and res[0].error:
        _fail(args, res[0].error, EXIT_USAGE)
        return EXIT_USAGE
    if args.json:
        print(json.dumps([q.as_dict() for q in res], default=str))
    else:
        print(render_list(res, s.dlq_flag_replays))
    return EXIT_FAILED if any(q.error for q in res) else EXIT_OK


def render_list(res: Sequence[D.QueueSummary], flag: int) -> str:
    rows = [
        [q.target, q.queue, q.depth, _t(q.oldest), _t(q.newest), q.flagged or "", q.error or ""]
        for q in res
    ]
    out = [table(["SERVICE", "QUEUE", "DEPTH", "OLDEST", "NEWEST", "FLAGGED", ""], rows)]
    groups = [(q, g) for q in res for g in q.groups]
    if groups:
        out.append("")
        out.append(
            table(
                ["GROUP", "SERVICE", "COUNT", "EXCEPTION", "TYPE", "OLDEST", "NEWEST", "EXAMPLE"],
                [
                    [
                        g.id,
                        q.target,
                        g.count,
                        g.exception_type,
                        g.event_type,
                        _t(g.oldest),
                        _t(g.newest),
                        _short(g.example or "", 60)
                        + (f" [{g.flagged} flagged]" if g.flagged else ""),
                    ]
                    for q, g in groups
                ],
            )
        )
    partial = [q for q in res if q.scanned < q.depth]
    for q in partial:
        out.append(f"({q.queue}: groups from the first {q.scanned} of {q.depth} messages)")
    if any(q.flagged for q in res):
        out.append(f"flagged: replayed {flag} times or more; replay needs --force")
    return "\n".join(out)


def cmd_show(args: argparse.Namespace) -> int:
    s = _settings(args)
    sel = selector_of(args)
    code, msgs = run(args, lambda: D.show(s, args.service, limit=args.limit, selector=sel))
    if msgs is None:
        return _code(code)
    flag = s.dlq_flag_replays
    if args.json:
        print(json.dumps([m.summary(flag) for m in msgs], default=str))
    else:
        print(render_show(msgs, flag, full=args.full) or "(no messages)")
    return EXIT_OK


def render_show(msgs: Sequence[D.DeadLetter], flag: int, *, full: bool = False) -> str:
    blocks = []
    for m in msgs:
        d = m.summary(flag)
        head = f"#{d['position']}  id={d['id']}  type={d['type']}  group={d['group']}"
        if d["flagged"]:
            head += f"  ** FLAGGED: replayed {d['replay_count']} times **"
        h = m.headers
        lines = [
            head,
            f"  failure   {d['exception_type']} ({D._text(h.get('failure-kind')) or '-'}): "
            + _short(d["exception_message"] or "", None if full else 300),
            f"  attempts  {d['attempts']}   first {_t(m.first_failure)}   last "
            f"{_t(m.last_failure)}   replays {d['replay_count']}"
            + (f" (last by {D._text(h.get('replayed-by'))})" if d["replay_count"] else ""),
            f"  from      {d['original_exchange'] or '(default)'} / {d['original_routing_key']}"
            f"   service {m.service}   queue {D._text(h.get('queue')) or '-'}",
        ]
        if full and h.get("stack-trace"):
            lines.append(
                "  stack     " + str(D._text(h["stack-trace"])).replace("\n", "\n            ")
            )
        if d["undecodable_properties"]:
            lines.append(f"  props     not decodable as sent: {d['undecodable_properties']}")
        if d["event"] is not None:
            lines.append("  event     " + _short(json.dumps(d["event"]), None if full else 400))
        else:
            why = d["body_problem"] or "too big to show whole"
            lines.append(f"  body      {d['body_bytes']:,} bytes, {why}; it begins:")
            text = d["body"] if full else m.excerpt(400)
            lines.append("            " + _short(text, None if full else 400))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def cmd_replay(args: argparse.Namespace) -> int:
    s = _settings(args)
    sel = selector_of(args)
    if args.to is not None and args.direct:
        _fail(args, "--to and --direct contradict each other", EXIT_USAGE)
        return EXIT_USAGE
    opts = D.ReplayOptions(
        to=args.to, direct=args.direct, rate=args.rate, dry_run=args.dry_run, force=args.force
    )
    if not args.dry_run and sel.is_all and sel.limit is None:
        where = "their own queue" if args.direct else (args.to or "where they came from")
        if not confirm(args, f"Replay ALL messages of {D.queue_of(args.service)} to {where}?"):
            return _declined(args)
    return _outcome_cmd(
        args,
        "replay",
        lambda o, bar: D.replay(
            s, args.service, sel, opts, user=args.user, progress=bar, outcome=o
        ),
    )


def cmd_archive(args: argparse.Namespace) -> int:
    s = _settings(args)
    sel = selector_of(args)
    if args.purge:
        what = "ALL messages" if sel.is_all else "the selected messages"
        question = f"Archive, then REMOVE {what} of {D.queue_of(args.service)}?"
        if not confirm(args, question):
            return _declined(args)
    return _outcome_cmd(
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
    s = _settings(args)
    return _outcome_cmd(
        args,
        "restore",
        lambda o, bar: D.restore(
            s, args.archive, force=args.force, user=args.user, progress=bar, outcome=o
        ),
    )


def cmd_export(args: argparse.Namespace) -> int:
    s = _settings(args)
    sel = selector_of(args)

    async def go() -> D.Outcome:
        if args.file:
            with open(args.file, "w", encoding="utf-8") as fh:  # noqa: ASYNC230
                return await D.export(s, args.service, sel, fh)
        return await D.export(s, args.service, sel, sys.stdout)

    code, o = run(args, go)
    if o is None:
        return _code(code)
    if args.file:
        emit_outcome(args, o)
    return EXIT_OK if o.matched else EXIT_NOTHING


def cmd_audit(args: argparse.Namespace) -> int:
    s = _settings(args)
    code, entries = run(args, lambda: D.audit_log(s, args.limit, args.service))
    if entries is None:
        return _code(code)
    if args.json:
        print(json.dumps(entries, default=str))
        return EXIT_OK
    rows = [
        [
            _t(e.get("started_at")),
            e.get("user"),
            e.get("action"),
            e.get("queue"),
            json.dumps(e.get("selector"), default=str),
            e.get("status"),
            e.get("matched", ""),
            e.get("done", ""),
            e.get("failed", ""),
            e.get("archive_id") or "",
        ]
        for e in entries
    ]
    heads = ["WHEN", "WHO", "ACTION", "QUEUE", "WHAT", "STATUS", "MATCHED", "DONE", "FAILED"]
    print(table([*heads, "ARCHIVE"], rows))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from distsync_ops.dlq_api import InsecureStart, check_start, serve

    console.configure_logging(verbose=True)  # a server: its log (the audit lines) at INFO
    update: dict[str, Any] = {}
    if args.insecure_local:
        update["dlq_api_insecure_local"] = True
    if args.allowed_host:
        update["dlq_api_allowed_hosts"] = args.allowed_host
    s = _settings(args).model_copy(update=update)
    try:
        check_start(s, args.host)
    except InsecureStart as e:
        _fail(args, str(e), EXIT_USAGE)
        return EXIT_USAGE
    url = f"http://{args.host}:{args.port}"
    if args.json:
        print(json.dumps({"ok": True, "url": url, "docs": url + "/docs"}), flush=True)
    else:
        print(f"dlq admin API on {url} (OpenAPI: {url}/docs)", flush=True)
    serve(args.host, args.port, s)
    return EXIT_OK


def _declined(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": "not confirmed", "exit_code": EXIT_NOTHING}))
    print("nothing done", file=sys.stderr)
    return EXIT_NOTHING


def _outcome_cmd(
    args: argparse.Namespace,
    label: str,
    make: Callable[[D.Outcome, ProgressBar], Awaitable[D.Outcome]],
) -> int:
    o = D.Outcome(label, "", {}, "")
    bar = ProgressBar(label, enabled=not args.json)
    code, _ = run(args, lambda: make(o, bar))
    bar.end()
    if code == EXIT_INTERRUPTED:  # Ctrl-C: say what was done before it
        o.cancelled = True
        emit_outcome(args, o)
        return EXIT_NOTHING
    if code != EXIT_OK:
        return _code(code)
    emit_outcome(args, o)
    if o.failed:
        return EXIT_FAILED
    return EXIT_OK if o.matched else EXIT_NOTHING


def emit_outcome(args: argparse.Namespace, o: D.Outcome) -> None:
    if args.json:
        print(json.dumps({"ok": not o.failed and not o.cancelled, **o.as_dict()}, default=str))
        return
    print(render_outcome(o))


def render_outcome(o: D.Outcome) -> str:
    verb = {"replay": "replayed", "purge": "purged", "archive": "archived", "restore": "restored"}
    verb |= {"export": "exported"}
    lines = []
    if o.cancelled:
        lines.append("CANCELLED: stopped before the end; nothing was lost (see below)")
    if o.dry_run:
        lines.append(f"dry run: would replay {o.matched} of {o.scanned} messages in {o.queue}")
        lines.append(table(["TO (EXCHANGE -> ROUTING KEY)", "MESSAGES"], sorted(o.plan.items())))
    else:
        lines.append(
            f"{verb.get(o.action, o.action)} {o.done} of {o.matched} matching messages "
            f"({o.scanned} scanned) {'into' if o.action == 'restore' else 'from'} {o.queue} "
            f"in {o.elapsed_s:.1f}s ({o.rate:,.0f}/s)"
        )
    if o.archive_id:
        lines.append(f"archive id: {o.archive_id}" + (f"  file: {o.file}" if o.file else ""))
    if o.skipped_flagged:
        lines.append(
            f"skipped {o.skipped_flagged} flagged messages (replayed too often): --force to include"
        )
    if o.renewed:
        lines.append(f"{o.renewed} messages moved to the DLQ tail (renewed: see the runbook)")
    if o.failed:
        lines.append(f"FAILED: {o.failed} (left where they were):")
        lines.extend(f"  {e}" for e in o.errors)
    if not o.matched and not o.cancelled:
        lines.append("nothing matched")
    return "\n".join(lines)


# --- text tables ------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) if c is not None else "" for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [
        bool(rows) and all(isinstance(r[i], int) or r[i] == "" for r in rows)
        for i in range(len(headers))
    ]

    def line(r: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(r)
        ).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def _t(t: Any) -> str:
    if isinstance(t, datetime):
        return t.strftime("%Y-%m-%d %H:%M:%SZ")
    return "-" if t is None else str(t)


def _short(text: str, n: int | None) -> str:
    text = " ".join(text.split()) if n is not None else text
    return text if n is None or len(text) <= n else text[: n - 1] + "…"
