"""archive / purge / restore: a message leaves the queue only once its archive is written."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from distsync_ops.dlq.admin import Admin, audited
from distsync_ops.dlq.broker import PUBLISH_ERRORS, Broker, _reason, amqp_properties, same_headers
from distsync_ops.dlq.errors import DlqError, NothingToDo, UsageError
from distsync_ops.dlq.message import DeadLetter
from distsync_ops.dlq.outcome import Outcome, Progress
from distsync_ops.dlq.scan import Item, scanning
from distsync_ops.dlq.selector import Selector, queue_of, who
from distsync_ops.dlq.settings import DlqSettings
from distsync_ops.dlq.values import iso

ARCHIVE_BATCH_BYTES = 8 * 1024 * 1024  # bodies per archive write: big messages go a few at a time


def new_archive_id(queue: str) -> str:
    return f"{queue}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


async def archive(
    settings: DlqSettings,
    target: str,
    selector: Selector,
    *,
    purge: bool,
    file: str | None = None,
    use_db: bool = True,
    user: str | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Write the selected messages to the archive (MongoDB and/or a JSONL file); with `purge`,
    then remove them from the queue, batch by batch, each only after its batch is written."""
    if not use_db and not file:
        raise UsageError("nowhere to archive to: give --file or leave the database on")
    o = outcome or Outcome("", "", {}, "")
    o.action, o.queue, o.user = ("purge" if purge else "archive"), queue_of(target), who(user)
    o.selector, o.archive_id, o.file = selector.describe(), new_archive_id(o.queue), file
    o.started = time.monotonic()
    adm = Admin(settings)
    fh = _open_append(file) if file else None
    read_limit = selector.limit if selector.is_all else None
    try:
        async with (
            Broker(settings.amqp_url) as broker,
            audited(adm, o),
            scanning(broker, o.queue, settings, limit=read_limit, keep_all=not purge) as scan,
        ):
            o.depth = scan.depth
            batch: list[tuple[Item, dict[str, Any]]] = []
            batch_bytes = 0

            async def flush() -> None:
                nonlocal batch_bytes
                if fh is not None:
                    await asyncio.to_thread(_write_durably, fh, [r for _, r in batch])
                if use_db:
                    await adm.insert_archive([_archive_doc(r) for _, r in batch])
                for item, _ in batch:  # archived: only now may they leave the queue
                    await (scan.ack(item) if purge else scan.keep(item))
                o.done += len(batch)
                batch.clear()
                batch_bytes = 0
                if progress is not None:
                    progress(o)

            try:
                async for item in scan:
                    o.scanned = scan.seen
                    if not selector.matches(item.message):
                        await scan.keep(item)
                        continue
                    rec = item.message.record(
                        archive_id=o.archive_id,
                        seq=o.matched,
                        archived_at=iso(datetime.now(UTC)),
                        archived_by=o.user,
                    )
                    o.matched += 1
                    batch.append((item, rec))
                    batch_bytes += len(item.message.body)
                    if len(batch) >= 500 or batch_bytes >= ARCHIVE_BATCH_BYTES:
                        await flush()
                    if selector.limit is not None and o.matched >= selector.limit:
                        break
                if batch:
                    await flush()
            finally:
                o.renewed = scan.renewed
    finally:
        if fh is not None:
            fh.close()
        await adm.close()
    return o


def _archive_doc(rec: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in rec.items() if k not in ("body_b64", "properties", "headers", "event")}
    doc["_id"] = f"{rec['archive_id']}:{rec['seq']:09d}"
    doc["body"] = base64.b64decode(rec["body_b64"])
    doc["properties"] = json.dumps(rec["properties"])
    doc["headers"] = json.dumps(rec["headers"])
    doc["archived_at"] = datetime.now(UTC)
    doc["restored_at"] = None
    return doc


def _open_append(path: str) -> TextIO:
    return open(path, "a", encoding="utf-8")


def _write_durably(fh: TextIO, records: list[dict[str, Any]]) -> None:
    """On disk before the messages leave the queue (fsync), one JSON object per line."""
    fh.write("".join(json.dumps(r, default=str) + "\n" for r in records))
    fh.flush()
    os.fsync(fh.fileno())


def _is_file(ref: str) -> bool:
    return Path(ref).is_file()


def read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise DlqError(f"{path}:{n}: not JSON ({e})") from e


async def restore(
    settings: DlqSettings,
    ref: str,
    *,
    force: bool = False,
    user: str | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Put archived messages back into the queue they came from, exactly as they were.

    `ref` is an archive id (MongoDB) or a JSONL file written by archive, purge or export.
    Messages already restored from MongoDB are skipped, so an interrupted restore resumes."""
    adm = Admin(settings)
    o = outcome or Outcome("", "", {}, "")
    o.started = time.monotonic()
    try:
        from_file = _is_file(ref)
        records = list(read_jsonl(ref)) if from_file else await adm.archive_docs(ref)
        if not records:
            raise NothingToDo(f"no archive {ref!r} (neither a JSONL file nor an archive id)")
        archive_id = str(records[0].get("archive_id") or ref)
        if not force:
            if from_file and await adm.restored_before(archive_id):
                raise NothingToDo(f"archive {archive_id} was already restored (use --force)")
            records = [r for r in records if not r.get("restored_at")]
            if not records:
                raise NothingToDo(f"archive {archive_id} was already restored (use --force)")
        queues = sorted({str(r["queue"]) for r in records})
        o.action, o.queue, o.selector, o.user = (
            "restore",
            ",".join(queues),
            {"archive": ref},
            who(user),
        )
        o.archive_id, o.matched, o.depth = archive_id, len(records), len(records)
        o.file = ref if from_file else None
        async with Broker(settings.amqp_url) as broker, audited(adm, o):
            for q in queues:
                await broker.depth(q)  # the queue must exist: a publish to nowhere is lost
            await _restore(broker, settings, records, o, adm, progress)
        return o
    finally:
        o.elapsed_s = time.monotonic() - o.started
        await adm.close()


async def _restore(
    broker: Broker,
    settings: DlqSettings,
    records: list[dict[str, Any]],
    o: Outcome,
    adm: Admin,
    progress: Progress | None,
) -> None:
    slots = asyncio.Semaphore(max(1, settings.dlq_inflight))
    restored: list[str] = []

    async def one(r: dict[str, Any]) -> None:
        try:
            m = DeadLetter.from_record(r)
            headers = same_headers(m)
            try:
                props = amqp_properties(m, headers, keep_missing_id=True)
                await broker.publish("", m.queue, m.body, props)
            except (*PUBLISH_ERRORS, ValueError, TypeError) as e:
                o.error(f"{m.event_id}: {_reason(e)}")
                return
            o.done += 1
            if "_id" in r:
                restored.append(str(r["_id"]))
            if progress is not None:
                progress(o)
        finally:
            slots.release()

    tasks: list[asyncio.Task[None]] = []
    try:
        for r in records:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(r)))
            o.scanned += 1
    finally:
        if tasks:
            await asyncio.shield(asyncio.wait(tasks, timeout=60))
        if restored:
            await asyncio.shield(adm.mark_restored(restored))
