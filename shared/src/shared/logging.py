"""structlog JSON logging; per-message context is bound with contextvars."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


class CurrentStream:
    """Writes to whatever `sys.<name>` is when a line is logged, not what it was when logging
    was configured: a redirection (or a test's output capture) may replace and close it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        return int(getattr(sys, self.name).write(text))

    def flush(self) -> None:
        getattr(sys, self.name).flush()


def configure(level: str = "INFO", json: bool = True, service: str | None = None) -> None:
    """Configure stdlib logging and structlog once per process."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=CurrentStream("stdout"), level=lvl, format="%(message)s", force=True)
    for noisy in ("aiormq", "aio_pika", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=CurrentStream("stdout")),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
