"""UPS: activity status types (I, P, M, D, X, RS, MV, O) and common activity status codes.

A UPS activity carries a coarse `type` and a finer two-character `code`; both are keys here
(they do not collide), the code is looked up first and the type is the fallback. UPS gives the
reason for an `X` exception only as text, so its reason stays unset until a code is known.
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, exc, info, ms

CODES: dict[str, Entry] = {
    # status types
    "M": ms("label_created", "Billing information received (label created)"),
    "MV": exc("cancelled", "Billing information voided (label voided)"),
    "P": ms("picked_up", "Pickup"),
    "I": ms("in_transit", "In transit"),
    "O": ms("out_for_delivery", "Out for delivery"),
    "D": ms("delivered", "Delivered"),
    "X": exc(None, "Exception"),
    "RS": ms("returned_to_sender", "Returned to shipper"),
    "NA": info("Not available"),
    # activity status codes
    "MP": ms("label_created", "Order processed: ready for UPS (label created)"),
    "XD": ms("picked_up", "Drop-off"),
    "OR": ms("picked_up", "Origin scan"),
    "AR": ms("in_transit", "Arrived at facility"),
    "DP": ms("in_transit", "Departed from facility"),
    "OT": ms("out_for_delivery", "Out for delivery today"),
    "FS": ms("delivered", "Delivered"),
    "KB": ms("delivered", "Delivered"),
}
