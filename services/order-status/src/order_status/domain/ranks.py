"""The enterprise statuses (contract §6) and the ranks that order an order's progress."""

from __future__ import annotations

from typing import Literal, get_args

EnterpriseStatus = Literal[
    "received",
    "credit_approved",
    "partially_allocated",
    "allocated",
    "backordered",
    "picked",
    "packed",
    "partially_shipped",
    "shipped",
    "delivered",
    "exception",
    "returned",
    "cancelled",
]
STATUSES: frozenset[str] = frozenset(get_args(EnterpriseStatus))

# Progress statuses in rank order; one rank is never undone by a later or a late event. The
# allocation tier (rank 2) is one rank: within it the current quantities decide.
RANK: dict[str, int] = {
    "received": 0,
    "credit_approved": 1,
    "partially_allocated": 2,
    "backordered": 2,
    "allocated": 2,
    "picked": 3,
    "packed": 4,
    "partially_shipped": 5,
    "shipped": 6,
    "delivered": 7,
}
ALLOCATION_TIER = 2
TERMINAL = ("cancelled", "returned")
"""Statuses an order keeps once reached; `exception` is neither progress nor terminal."""
