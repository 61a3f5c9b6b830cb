"""Why a dlq operation could not run, as types the CLI and the HTTP API tell apart."""

from __future__ import annotations


class DlqError(Exception):
    """An operation could not run (unknown queue, audit log unreachable, bad archive)."""


class NothingToDo(DlqError):
    """Nothing matched, or the archive was already restored."""


class QueueBusy(DlqError):
    """Another dlq command holds the queue's lock."""


class UsageError(DlqError):
    """The request itself is wrong: an unknown queue, options that contradict each other."""
