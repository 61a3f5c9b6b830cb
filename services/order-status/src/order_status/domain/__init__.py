"""order-status's pure domain: no I/O, no broker, database, logging or metrics (.importlinter).

- `order`: an order, the facts recorded on it, the changes to announce and what to measure.
- `fold`: the fold of an order's facts in event-time order; `fold.APPLY` maps each event type
  to the function that applies it.
- `ranks`: the enterprise statuses and the ranks of progress.
- `transitions`: which status follows: ranks never drop, claims rise, exceptions clear,
  terminal statuses stay.
- `rollup`: per-line quantities and shipments, and the status they roll up to.
- `parking`: tracking updates that arrive before their order is known.
- `views`: the facts an order keeps and the view the fold produces.
- `mappings`: each source system's native statuses as data.
"""
