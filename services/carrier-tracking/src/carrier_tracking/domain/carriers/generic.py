"""Other carriers (and TMS adapters): milestone names, common synonyms and exception reasons.

A carrier without its own table reports these words as its native code, in any case, with
spaces or dashes (`Out for delivery`, `out-for-delivery`, `OUT_FOR_DELIVERY` are the same).
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, exc, info, ms

CODES: dict[str, Entry] = {
    "LABEL_CREATED": ms("label_created", "Label created"),
    "PRE_TRANSIT": ms("label_created", "Pre-transit"),
    "INFO_RECEIVED": ms("label_created", "Information received"),
    "PICKED_UP": ms("picked_up", "Picked up"),
    "ACCEPTED": ms("picked_up", "Accepted by carrier"),
    "IN_TRANSIT": ms("in_transit", "In transit"),
    "OUT_FOR_DELIVERY": ms("out_for_delivery", "Out for delivery"),
    "DELIVERY_ATTEMPTED": ms("delivery_attempted", "Delivery attempted"),
    "ATTEMPT_FAIL": ms("delivery_attempted", "Delivery attempt failed"),
    "AVAILABLE_FOR_PICKUP": ms("available_for_pickup", "Available for pickup"),
    "READY_FOR_PICKUP": ms("available_for_pickup", "Ready for pickup"),
    "DELIVERED": ms("delivered", "Delivered"),
    "RETURNED_TO_SENDER": ms("returned_to_sender", "Returned to sender"),
    "RETURNED": ms("returned_to_sender", "Returned to sender"),
    "EXCEPTION": exc(None, "Exception"),
    "REFUSED": exc("refused", "Refused by recipient"),
    "ADDRESS_PROBLEM": exc("address_problem", "Address problem"),
    "DAMAGED": exc("damaged", "Damaged"),
    "WEATHER": exc("weather", "Weather delay"),
    "CUSTOMS": exc("customs", "Customs hold"),
    "LOST": exc("lost", "Lost"),
    "DELAYED": exc("delayed", "Delayed"),
    "RECIPIENT_UNAVAILABLE": exc("recipient_unavailable", "Recipient unavailable"),
    "MISROUTED": exc("misrouted", "Misrouted"),
    "HELD": exc("held", "Held by carrier"),
    "UNCLAIMED": exc("unclaimed", "Unclaimed"),
    "PAYMENT_REQUIRED": exc("payment_required", "Payment required"),
    "CANCELLED": exc("cancelled", "Cancelled"),
    "UNKNOWN": info("Unknown status"),
}
