"""`distsync reconcile`: distsync's stock positions and order statuses compared with the systems
it replaces (an ERP or WMS stock snapshot, an old portal's order export); see
docs/reconciliation.md.

Layout: `rows` reads the input files as streams, `spill` sorts them on disk, `store` is the one
module that reads the services' databases, `rewind` places a position at the snapshot's time,
`stock` and `orders` compare, `report` renders, `counts` turns reviewed variances into
`inventory.counted` events, `record` stores each run's figures for the schedule and its alerts.
"""
