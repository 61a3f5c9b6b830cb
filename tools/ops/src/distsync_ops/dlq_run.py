"""How a `distsync dlq` command runs one operation and ends: its result on stdout, as JSON or
text from the same data, errors on stderr, the question before a destructive step, Ctrl-C, and
the exit code each ending maps to (see `dlq_cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from distsync_ops import console
from distsync_ops import dlq as D
from distsync_ops.dlq_render import ProgressBar, render_outcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3
EXIT_INTERRUPTED = -1  # internal: reported as EXIT_NOTHING after saying what was done
T = TypeVar("T")


def settings(args: argparse.Namespace) -> D.DlqSettings:
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
        fail(args, str(e), EXIT_NOTHING)
        return EXIT_NOTHING, None
    except D.UsageError as e:
        fail(args, str(e), EXIT_USAGE)
        return EXIT_USAGE, None
    except Exception as e:
        fail(args, f"{type(e).__name__}: {e}", EXIT_FAILED)
        return EXIT_FAILED, None


async def _run(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def exit_code(code: int) -> int:
    return EXIT_NOTHING if code == EXIT_INTERRUPTED else code


def emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    """The result on stdout: `data` as JSON with --json, else the text rendered for people."""
    print(json.dumps(data, default=str) if args.json else text())


def fail(args: argparse.Namespace, text: str, code: int) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": text, "exit_code": code}))
    print(f"distsync dlq: {text}", file=sys.stderr)


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


def declined(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": "not confirmed", "exit_code": EXIT_NOTHING}))
    print("nothing done", file=sys.stderr)
    return EXIT_NOTHING


def run_outcome(
    args: argparse.Namespace,
    label: str,
    make: Callable[[D.Outcome, ProgressBar], Awaitable[D.Outcome]],
) -> int:
    """Run an operation that changes queues, with a progress line, and report its outcome."""
    o = D.Outcome(label, "", {}, "")
    bar = ProgressBar(label, enabled=not args.json)
    code, _ = run(args, lambda: make(o, bar))
    bar.end()
    if code == EXIT_INTERRUPTED:  # Ctrl-C: say what was done before it
        o.cancelled = True
        emit_outcome(args, o)
        return EXIT_NOTHING
    if code != EXIT_OK:
        return exit_code(code)
    emit_outcome(args, o)
    if o.failed:
        return EXIT_FAILED
    return EXIT_OK if o.matched else EXIT_NOTHING


def emit_outcome(args: argparse.Namespace, o: D.Outcome) -> None:
    ok = not o.failed and not o.cancelled
    emit(args, {"ok": ok, **o.as_dict()}, lambda: render_outcome(o))
