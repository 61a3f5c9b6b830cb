"""Return statuses of `return.status_changed` -> enterprise status.

The goods are back once the RMA is `received`; `inspected` and `completed` imply it. Other
statuses are recorded on the timeline and leave the order status alone.
"""

TABLE: dict[str, str | None] = {
    "authorized": None,
    "partially_received": None,
    "received": "returned",
    "inspected": "returned",
    "completed": "returned",
    "expired": None,
    "rejected": None,
}
