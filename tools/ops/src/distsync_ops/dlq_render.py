"""What `distsync dlq ...` prints for people: tables, messages, the audit log, outcomes, progress.

Each function renders the result a command got from `distsync_ops.dlq`, the same result `--json`
prints as it is; nothing here reads a queue or decides an exit code (`dlq_cli` does).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from distsync_ops import dlq as D
from shared import failures as F

VERBS = {
    "replay": "replayed",
    "purge": "purged",
    "archive": "archived",
    "restore": "restored",
    "export": "exported",
}


def render_list(res: Sequence[D.QueueSummary], flag: int) -> str:
    """Depth, oldest and newest per queue, then the failure groups."""
    rows = [
        [q.target, q.queue, q.depth, when(q.oldest), when(q.newest), q.flagged or "", q.error or ""]
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
                        when(g.oldest),
                        when(g.newest),
                        short(g.example or "", 60)
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


def render_show(msgs: Sequence[D.DeadLetter], flag: int, *, full: bool = False) -> str:
    """One block per message: its failure, counts, origin, and its event or body excerpt."""
    return "\n\n".join(_message(m, flag, full) for m in msgs)


def _message(m: D.DeadLetter, flag: int, full: bool) -> str:
    d = m.summary(flag)
    head = f"#{d['position']}  id={d['id']}  type={d['type']}  group={d['group']}"
    if d["flagged"]:
        head += f"  ** FLAGGED: replayed {d['replay_count']} times **"
    lines = [
        head,
        f"  failure   {d['exception_type']} ({m.header_text(F.H_KIND) or '-'}): "
        + short(d["exception_message"] or "", None if full else 300),
        f"  attempts  {d['attempts']}   first {when(m.first_failure)}   last "
        f"{when(m.last_failure)}   replays {d['replay_count']}"
        + (f" (last by {m.header_text(F.H_REPLAYED_BY)})" if d["replay_count"] else ""),
        f"  from      {d['original_exchange'] or '(default)'} / {d['original_routing_key']}"
        f"   service {m.service}   queue {m.header_text(F.H_QUEUE) or '-'}",
    ]
    if full and m.headers.get(F.H_STACK):
        lines.append("  stack     " + str(m.header_text(F.H_STACK)).replace("\n", "\n            "))
    if d["undecodable_properties"]:
        lines.append(f"  props     not decodable as sent: {d['undecodable_properties']}")
    if d["event"] is not None:
        lines.append("  event     " + short(json.dumps(d["event"]), None if full else 400))
    else:
        why = d["body_problem"] or "too big to show whole"
        lines.append(f"  body      {d['body_bytes']:,} bytes, {why}; it begins:")
        text = d["body"] if full else m.excerpt(400)
        lines.append("            " + short(text, None if full else 400))
    return "\n".join(lines)


def render_audit(entries: Sequence[dict[str, Any]]) -> str:
    """The audit log, newest first: who did what to which queue, and how it ended."""
    rows = [
        [
            when(e.get("started_at")),
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
    return table([*heads, "ARCHIVE"], rows)


def render_outcome(o: D.Outcome) -> str:
    """What a replay, archive, purge, restore or export did, and what it left where it was."""
    lines = []
    if o.cancelled:
        lines.append("CANCELLED: stopped before the end; nothing was lost (see below)")
    if o.dry_run:
        lines.append(f"dry run: would replay {o.matched} of {o.scanned} messages in {o.queue}")
        lines.append(table(["TO (EXCHANGE -> ROUTING KEY)", "MESSAGES"], sorted(o.plan.items())))
    else:
        lines.append(
            f"{VERBS.get(o.action, o.action)} {o.done} of {o.matched} matching messages "
            f"({o.scanned} scanned) {'into' if o.action == 'restore' else 'from'} {o.queue} "
            f"in {o.elapsed_s:.1f}s ({o.rate:,.0f}/s)"
        )
    if o.archive_id:
        lines.append(f"archive id: {o.archive_id}" + (f"  file: {o.file}" if o.file else ""))
    if o.skipped_flagged:
        lines.append(
            f"skipped {o.skipped_flagged} flagged messages (replayed too often): --force to include"
        )
    if o.skipped_beyond_horizon:
        lines.append(
            f"skipped {o.skipped_beyond_horizon} messages older than the deduplication horizon "
            "(the services would dead-letter them again as beyond_dedup_horizon): "
            "--beyond-horizon to include"
        )
    if o.renewed:
        lines.append(f"{o.renewed} messages moved to the DLQ tail (renewed: see the runbook)")
    if o.failed:
        lines.append(f"FAILED: {o.failed} (left where they were):")
        lines.extend(f"  {e}" for e in o.errors)
    if not o.matched and not o.cancelled:
        lines.append("nothing matched")
    return "\n".join(lines)


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


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; a column of whole numbers aligned right."""
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


def when(t: Any) -> str:
    if isinstance(t, datetime):
        return t.strftime("%Y-%m-%d %H:%M:%SZ")
    return "-" if t is None else str(t)


def short(text: str, n: int | None) -> str:
    """On one line and at most `n` characters; None: as it is."""
    text = " ".join(text.split()) if n is not None else text
    return text if n is None or len(text) <= n else text[: n - 1] + "…"
