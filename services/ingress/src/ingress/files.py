"""A flat file in, its rows out as events, and a report of what was accepted and refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from ingress import metrics, store
from ingress.admission import Admitted, Gate, Refused
from ingress.domain.flatfiles import KINDS, FileError, RowEvent, file_digest, parse_file
from ingress.domain.systems import system_of
from ingress.intake import ACCEPTED, FAILED, Publish, take, unavailable
from ingress.settings import IngressSettings
from shared.cloudevent import format_time
from shared.logging import get_logger

log = get_logger("ingress.files")

REPORT_LINES = 1000  # refusals and events listed in a report at most; the counts are complete


def report_id(digest: str) -> str:
    return digest[:32]


async def process(
    *,
    publish: Publish,
    db: Any,
    gate: Gate,
    settings: IngressSettings,
    kind_name: str,
    content: bytes,
    fmt: str,
    name: str | None,
    source: str | None,
    allowed: frozenset[str] | None,
    channel: str,
) -> dict[str, Any]:
    """Reads, admits and publishes a file's rows; stores and returns its report."""
    kind = KINDS[kind_name]
    now = datetime.now(UTC)
    src = source or f"{kind.system}/ingress-{channel}"
    try:
        parsed = parse_file(kind, content, fmt)
    except FileError as e:
        fid = report_id(file_digest(kind.name, content))
        report = _report(fid, kind.name, name, channel, src, fmt, now)
        report.update(outcome="failed", error=str(e))
        await _save(db, report)
        metrics.FILES.labels(kind.name, channel, "failed").inc()
        return report
    refused: list[dict[str, Any]] = [{"line": r.line, "reason": r.reason} for r in parsed.refused]
    metrics.count("file", system_of(src), "refused", "schema_invalid", len(parsed.refused))
    admitted: list[Admitted] = []
    rows_of: dict[str, RowEvent] = {}
    for row in parsed.events:
        obj = _event_object(row, src, now)
        got = gate.admit_object(obj, allowed)
        if isinstance(got, Refused):
            metrics.count("file", system_of(src), "refused", got.kind)
            refused.extend({"line": n, "reason": got.reason} for n in row.lines)
        else:
            admitted.append(got)
            rows_of[got.event.id] = row
    outcomes = await take(publish, db, settings, admitted, "file") if admitted else []
    events: list[dict[str, Any]] = []
    counts = {ACCEPTED: 0, store.DUPLICATE: 0}
    for o in outcomes:
        row = rows_of[o.id]
        if o.status in counts:
            counts[o.status] += 1
            events.append({"line": row.line, "id": o.id, "status": o.status})
        else:
            reason = o.reason or o.status
            refused.extend({"line": n, "reason": reason} for n in row.lines)
    refused.sort(key=lambda r: int(r["line"]))
    report = _report(report_id(parsed.digest), kind.name, name, channel, src, fmt, now)
    taken = counts[ACCEPTED] + counts[store.DUPLICATE]
    report.update(
        rows=parsed.rows,
        events_accepted=counts[ACCEPTED],
        events_duplicate=counts[store.DUPLICATE],
        events_failed=sum(1 for o in outcomes if o.status == FAILED),
        rows_refused=len({r["line"] for r in refused}),
        refused=refused[:REPORT_LINES],
        events=events[:REPORT_LINES],
        outcome="done" if not refused else ("partial" if taken else "failed"),
    )
    await _save(db, report)
    metrics.FILES.labels(kind.name, channel, report["outcome"]).inc()
    log.info(
        "ingress_file_read",
        kind=kind.name,
        file=name,
        channel=channel,
        accepted=counts[ACCEPTED],
        duplicate=counts[store.DUPLICATE],
        refused=report["rows_refused"],
    )
    return report


async def _save(db: Any, report: dict[str, Any]) -> None:
    try:
        await store.save_report(db, report)
    except PyMongoError as e:
        raise unavailable(e) from e


def _event_object(row: RowEvent, source: str, now: datetime) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": row.id,
        "source": source,
        "type": row.type,
        "time": row.time or format_time(now),
        "datacontenttype": "application/json",
        "data": row.data,
    }
    if row.correlationid:
        obj["correlationid"] = row.correlationid
    return obj


def _report(
    fid: str,
    kind: str,
    name: str | None,
    channel: str,
    source: str,
    fmt: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": fid,
        "kind": kind,
        "name": name,
        "channel": channel,
        "source": source,
        "format": fmt,
        "received_at": now,
        "rows": 0,
        "events_accepted": 0,
        "events_duplicate": 0,
        "events_failed": 0,
        "rows_refused": 0,
        "refused": [],
        "events": [],
        "error": None,
    }
