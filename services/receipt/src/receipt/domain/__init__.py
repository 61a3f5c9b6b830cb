"""receipt's pure domain: no I/O, no broker, database, logging or metrics (.importlinter).

- `purchase_order`: purchase orders with their ASNs and receipts, items and unit conversion.
- `lifecycle`: a PO's life (release, ASNs, receipts held until the release, cancellation).
- `receiving`: checking one receipt against its PO, unit by unit.
- `policy`: what happens to units in each situation, and the exception it raises (data).
- `recheck`: re-checking a PO's receipts once its cancellation is known.
- `inbound`: supply still expected per (SKU, location) from open PO lines.
"""
