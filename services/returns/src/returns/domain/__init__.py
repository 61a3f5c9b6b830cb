"""returns' pure domain: no I/O, no broker, database, logging or metrics (.importlinter).

- `state`: an RMA, its items per (sku, location), flags and history; derived quantities and
  the status rules.
- `workflow`: what authorization, receipt, inspection and expiry do to an RMA.
- `pending`: expected supply from open RMAs per (sku, location).
"""
