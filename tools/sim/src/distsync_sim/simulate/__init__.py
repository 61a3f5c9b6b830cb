"""`distsync simulate`: a seeded regional distributor driven through the real services.

`model` generates what the ERP, WMS, carriers and portal publish; `truth` replays what was
published through the contract's formulas; `faults` duplicates, reorders, corrupts and breaks
things; `runner` spawns or attaches to the services, publishes, drains and compares; `report`
prints the result.
"""
