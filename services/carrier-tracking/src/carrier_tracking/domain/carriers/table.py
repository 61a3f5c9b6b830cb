"""Shapes shared by the per-carrier mapping tables: one entry per native code, data only.

A table has two parts: `CODES`, keyed by a code alone (or a coarse type alone), and
`TYPED`, keyed by `(type, code)` for carriers whose codes mean different things under
different types (a UPS `DP` is a departure scan under type `I` but "manifest processed" under
type `M`). The typed key wins, then `(type, "*")` (any code under that type), then the code
alone, then the type alone.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

Milestone = Literal[
    "label_created",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivery_attempted",
    "available_for_pickup",
    "delivered",
    "exception",
    "returned_to_sender",
]
MILESTONES: tuple[str, ...] = get_args(Milestone)

ExceptionReason = Literal[
    "refused",
    "address_problem",
    "damaged",
    "weather",
    "customs",
    "lost",
    "delayed",
    "recipient_unavailable",
    "misrouted",
    "held",
    "unclaimed",
    "payment_required",
    "cancelled",
    "other",
]
EXCEPTION_REASONS: tuple[str, ...] = get_args(ExceptionReason)


class Entry(NamedTuple):
    """What a native code means. `milestone=None`: a known code that moves no milestone."""

    milestone: Milestone | None
    reason: ExceptionReason | None = None
    meaning: str = ""


TypedCodes = dict[tuple[str, str], Entry]
"""Entries keyed by (type, code), both normalised; code `*` is any code under the type."""
ANY_CODE = "*"


def normalise_code(code: str) -> str:
    """Keys are upper case with `_` for spaces and dashes: `pre-transit` is `PRE_TRANSIT`."""
    return "_".join(code.strip().upper().replace("-", " ").split())


def info(meaning: str) -> Entry:
    return Entry(None, None, meaning)


def ms(milestone: Milestone, meaning: str) -> Entry:
    return Entry(milestone, None, meaning)


def exc(reason: ExceptionReason | None, meaning: str) -> Entry:
    return Entry("exception", reason, meaning)
