"""Which running system the tools talk to: the environment, else the stack `distsync up` started.

`distsync up` (what `make run` runs) writes the addresses of what it started to
`<data dir>/stack.json` (`.data/stack.json` by default) and removes the file when it stops. The
tools look for `.data/stack.json` in the working directory and each directory above it (or take
the file `$DISTSYNC_STACK_FILE` names), and ignore a file whose writer is no longer running. Per
value, the environment wins (`AMQP_URL`, `MONGODB_URL`, or their `DISTSYNC_` forms), then the
file, then the defaults of `ServiceSettings`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STACK_FILE_ENV = "DISTSYNC_STACK_FILE"
STACK_FILE = Path(".data") / "stack.json"
STACK_NAME = "stack.json"
# the settings a stack provides, with the environment variables that override it
ENV_NAMES = {
    "amqp_url": ("AMQP_URL", "DISTSYNC_AMQP_URL"),
    "mongodb_url": ("MONGODB_URL", "DISTSYNC_MONGODB_URL"),
}


@dataclass(frozen=True)
class Stack:
    """What one `distsync up` started."""

    path: Path
    pid: int
    amqp_url: str
    mongodb_url: str
    services: dict[str, str] = field(default_factory=dict)  # service -> base URL of its HTTP API
    dlq_api: str | None = None

    def value(self, name: str) -> str:
        return str(getattr(self, name))


def write_stack(
    data_dir: str | Path,
    *,
    amqp_url: str,
    mongodb_url: str,
    services: Mapping[str, str],
    dlq_api: str | None,
    pid: int | None = None,
) -> Path:
    """Record a stack for the tools (readable by its owner only: the URLs may hold passwords)."""
    path = Path(data_dir) / STACK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "pid": os.getpid() if pid is None else pid,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "amqp_url": amqp_url,
        "mongodb_url": mongodb_url,
        "services": dict(services),
        "dlq_api": dlq_api,
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
    tmp.replace(path)
    return path


def remove_stack(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def find_stack(
    cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Stack | None, str]:
    """The running stack's record, or None; and, either way, what was found (for --verbose)."""
    env = os.environ if env is None else env
    if env.get(STACK_FILE_ENV):
        candidates = [Path(env[STACK_FILE_ENV])]
    else:
        here = (cwd or Path.cwd()).resolve()
        candidates = [d / STACK_FILE for d in (here, *here.parents)]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            stack = _read(path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            return None, f"{path} ignored: unreadable ({type(e).__name__}: {e})"
        if not _running(stack.pid):
            return (
                None,
                f"{path} ignored: the `distsync up` that wrote it (pid {stack.pid}) is gone",
            )
        return stack, f"{path} (`distsync up`, pid {stack.pid})"
    where = candidates[0] if env.get(STACK_FILE_ENV) else f"{STACK_FILE} here or above"
    return None, f"no running `distsync up` found ({where})"


def _read(path: Path) -> Stack:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Stack(
        path=path,
        pid=int(doc["pid"]),
        amqp_url=str(doc["amqp_url"]),
        mongodb_url=str(doc["mongodb_url"]),
        services={str(k): str(v) for k, v in dict(doc.get("services") or {}).items()},
        dlq_api=str(doc["dlq_api"]) if doc.get("dlq_api") else None,
    )


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but running
    return True


@dataclass(frozen=True)
class Resolved:
    """The settings a tool should use, and where each came from."""

    values: dict[str, str]  # only those taken from the stack file: the rest come from Settings
    sources: dict[str, str]
    stack: Stack | None

    def describe(self) -> list[str]:
        return [f"{name}: {source}" for name, source in self.sources.items()]


def resolve(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Resolved:
    """Per setting of `ENV_NAMES`: the environment, else the stack file, else the default."""
    env = os.environ if env is None else env
    stack, found = find_stack(cwd, env)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, names in ENV_NAMES.items():
        set_in = next((n for n in names if env.get(n)), None)
        if set_in is not None:
            sources[name] = f"environment ({set_in})"
        elif stack is not None:
            values[name] = stack.value(name)
            sources[name] = f"stack file {found}"
        else:
            sources[name] = f"default ({found})"
    return Resolved(values, sources, stack)
