"""The peers distsync's availability service is measured against in `benchmarks.stack_bench`.

Each runs as its own process, consumes `inventory.adjusted` from its own queue bound to
`wms.events`, keeps `positions` (on-hand per SKU and location) and an `inbox` of applied event
ids in its own database, and acknowledges only after the write committed. They do less than
distsync (no validation beyond JSON, no outbox, no emitted events, no buckets): they are the
floor a hand-written consumer reaches, not a functional equivalent.
"""
