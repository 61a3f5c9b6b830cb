"""The ingress's pure rules, no I/O: `systems` (who may publish what, where), `binary` (CloudEvents
HTTP headers to an event), `flatfiles` (CSV and JSON-lines rows to events), `x12` (EDI X12
segments to events and back)."""
