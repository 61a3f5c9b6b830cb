"""UPS: activity status types and activity status codes, some keyed by (type, code).

Sources (read 2026-12-04):
- UPS Track Alert API v2, OpenAPI `UPSTrackAlert.yaml` in github.com/UPS-API/api-documentation
  (webhook `TrackingEvent`: `activityStatus.type` D, I, M, MV, U, X; `code`; `description`).
- UPS Track API v1, `Tracking.yaml` in the same repository (`activity[].status.type`, `code`,
  `statusCode`) and its "Status Codes" appendix, https://developer.ups.com/api/reference/tracking/appendix

A UPS activity carries a coarse `type` and a two-character `code`. Codes that mean
different things under different types are keyed by both in `TYPED` (`M`/`DP` is "manifest
processed", not a departure); a `*` code stands for any code under that type (under `X`
every code is an exception). `CODES` holds the types and the codes read the same way under
any type. The lookup is (type, code), then (type, `*`), then the code, then the type. UPS
gives the reason for an `X` exception as text, so its reason stays unset.
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, TypedCodes, exc, info, ms

CODES: dict[str, Entry] = {
    # activity status types
    "M": ms("label_created", "Manifest: billing information received (label created)"),
    "MV": exc("cancelled", "Manifest void: billing information voided"),
    "P": ms("picked_up", "Pickup"),
    "I": ms("in_transit", "On the way (in transit)"),
    "O": ms("out_for_delivery", "Out for delivery"),
    "D": ms("delivered", "Delivered"),
    "X": exc(None, "Package exception"),
    "RS": ms("returned_to_sender", "Returned to shipper"),
    "U": info("Updated delivery date or time"),
    "W": info("Warehousing"),
    "NA": info("Not available"),
    # activity status codes with one meaning under any type
    "MP": ms("label_created", "Order processed: ready for UPS"),
    "XD": ms("picked_up", "Drop-off"),
    "OR": ms("picked_up", "Origin scan"),
    "AR": ms("in_transit", "Arrival scan"),
    "DP": ms("in_transit", "Departure scan"),
    "DS": ms("in_transit", "Destination scan"),
    "EP": ms("in_transit", "Export scan"),
    "IP": ms("in_transit", "Import scan"),
    "LC": ms("in_transit", "Location scan"),
    "OT": ms("out_for_delivery", "Out for delivery"),
    "FS": ms("delivered", "Delivered"),
    "KB": ms("delivered", "Delivered"),
}

TYPED: TypedCodes = {
    # `*`: any code under the type. These types fix the meaning whatever the code says.
    ("M", "*"): ms("label_created", "Manifest: billing information received"),
    ("M", "MP"): ms("label_created", "Order processed: ready for UPS"),
    ("M", "DP"): ms("label_created", "Manifest processed"),
    ("MV", "*"): exc("cancelled", "Manifest void: shipment information voided"),
    ("P", "*"): ms("picked_up", "Pickup"),
    ("D", "*"): ms("delivered", "Delivered"),
    ("X", "*"): exc(None, "Package exception"),
    ("RS", "*"): ms("returned_to_sender", "Returned to shipper"),
    ("U", "*"): info("Updated delivery date or time"),
    # type I (on the way): the code refines the milestone
    ("I", "OR"): ms("picked_up", "Origin scan"),
    ("I", "XD"): ms("picked_up", "Drop-off"),
    ("I", "AR"): ms("in_transit", "Arrival scan"),
    ("I", "DP"): ms("in_transit", "Departure scan"),
    ("I", "OT"): ms("out_for_delivery", "Out for delivery"),
}
