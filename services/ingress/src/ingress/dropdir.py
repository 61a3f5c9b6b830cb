"""The watched folder: files dropped in `<dir>/<kind>/` are read once, then moved to
`<kind>/done/` (every row accepted) or `<kind>/failed/` (any refused), with their report beside.

A file is claimed by renaming it into `<kind>/processing/` first, so several replicas watching one
shared folder never read a file twice at once. Writers should write under a name starting with
`.` or ending in `.part` or `.tmp` and rename it when complete: such names are never read.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingress import files as flat
from ingress.admission import Gate
from ingress.catalogue import Catalogue
from ingress.domain.flatfiles import KINDS, fmt_of
from ingress.settings import IngressSettings, settings_of
from shared.logging import get_logger
from shared.service import TaskContext

log = get_logger("ingress.dropdir")

SUBDIRS = ("processing", "done", "failed")


def _ready(p: Path) -> bool:
    n = p.name
    return p.is_file() and not n.startswith(".") and not n.endswith((".part", ".tmp"))


def _claim(kind_dir: Path) -> list[Path]:
    """Move every ready file into processing/ (os.rename is atomic: one replica wins)."""
    for sub in SUBDIRS:
        (kind_dir / sub).mkdir(parents=True, exist_ok=True)
    claimed = []
    for p in sorted(kind_dir.iterdir()):
        if not _ready(p):
            continue
        target = kind_dir / "processing" / f"{p.name}.{os.getpid()}"
        try:
            os.rename(p, target)
        except FileNotFoundError:
            continue
        claimed.append(target)
    return claimed


def _finish(path: Path, outcome: str, report: dict[str, Any]) -> Path:
    """Move the file to done/ or failed/ under its original name (a suffix when taken)."""
    kind_dir = path.parent.parent
    name = path.name.rsplit(".", 1)[0]
    dest_dir = kind_dir / ("done" if outcome == "done" else "failed")
    dest = dest_dir / name
    if dest.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        dest = dest_dir / f"{name}.{stamp}"
    os.rename(path, dest)
    text = json.dumps(report, default=str, indent=2)
    dest.with_name(dest.name + ".report.json").write_text(text, encoding="utf-8")
    return dest


async def poll(ctx: TaskContext) -> None:
    """One pass over the folder; the runtime runs it every `ingress_drop_poll_s`."""
    settings = settings_of(ctx.settings)
    if not settings.ingress_drop_dir:
        return
    if ctx.publish is None:  # a runtime without a publisher (not a running service)
        return
    root = Path(settings.ingress_drop_dir)
    for kind in KINDS:
        kind_dir = root / kind
        if not kind_dir.is_dir():
            continue
        for path in await asyncio.to_thread(_claim, kind_dir):
            name = path.name.rsplit(".", 1)[0]
            try:
                report = await _read(ctx, settings, kind, path, name)
            except Exception as e:  # the database or broker is away: read it again later
                log.warning("ingress_drop_failed", kind=kind, file=name, error=repr(e)[:300])
                await asyncio.to_thread(os.rename, path, kind_dir / name)
                continue
            if report.get("events_failed"):  # the broker did not take it: try again later
                await asyncio.to_thread(os.rename, path, kind_dir / name)
                continue
            dest = await asyncio.to_thread(_finish, path, str(report["outcome"]), report)
            log.info("ingress_file_dropped", kind=kind, file=name, moved_to=str(dest))


_GATES: dict[Any, Gate] = {}


def _gate(settings: IngressSettings) -> Gate:
    """The admission gate of this deployment (its services' models, its event-time window)."""
    window = settings.event_time_window()
    if window not in _GATES:
        _GATES[window] = Gate(Catalogue.installed(), window)
    return _GATES[window]


async def _read(
    ctx: TaskContext, settings: IngressSettings, kind: str, path: Path, name: str
) -> dict[str, Any]:
    assert ctx.publish is not None
    content = await asyncio.to_thread(path.read_bytes)
    return await flat.process(
        publish=ctx.publish,
        db=ctx.db,
        gate=_gate(settings),
        settings=settings,
        kind_name=kind,
        content=content,
        fmt=fmt_of(name, None),
        name=name,
        source=None,
        allowed=None,
        channel="drop",
    )
