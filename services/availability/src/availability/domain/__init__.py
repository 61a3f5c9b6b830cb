"""availability's pure domain: no I/O, no broker, database, logging or metrics (.importlinter).

- `position`: one stock position per (sku, location), its buckets, on-hand log and counts.
- `items`: the item master, units of measure and quantities in millionths of the base unit.
- `rules`: what each stock event does to the positions it touches (contract §5).
- `promise`: whether order lines can be promised from the positions now.
"""
