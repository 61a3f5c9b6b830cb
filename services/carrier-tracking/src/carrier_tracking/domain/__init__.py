"""carrier-tracking's pure domain: no I/O, no broker, database, logging or metrics
(.importlinter).

- `tracking`: one tracking number's registration and scans, and the milestone they replay to.
- `carriers`: each carrier's native codes as data (one module per carrier) and the lookup.
"""
