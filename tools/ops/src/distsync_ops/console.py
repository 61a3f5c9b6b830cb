"""What the tools print besides their results: logs on stderr only, warnings unless --verbose.

stdout carries a command's result (a table, or JSON with --json) and nothing else, so it can be
piped; log lines go to stderr, and only warnings and errors unless the operator asks for more.
"""

from __future__ import annotations

import argparse
import logging
import sys

import structlog

from distsync_ops import stack
from shared.logging import CurrentStream


def add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log at INFO on stderr, and say where the broker and database addresses came from",
    )


def verbose(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(verbose: bool = False) -> None:
    """stdlib logging and structlog to stderr: WARNING and above, or INFO with --verbose."""
    level = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(h)
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiormq", "aio_pika", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=CurrentStream("stderr")),  # type: ignore[arg-type]
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )


def say(text: str) -> None:
    print(text, file=sys.stderr)


def resolved(args: argparse.Namespace, tool: str) -> stack.Resolved:
    """The addresses to use (environment, stack file, defaults); said on stderr with -v."""
    r = stack.resolve()
    if verbose(args):
        for line in r.describe():
            say(f"{tool}: {line}")
    return r
