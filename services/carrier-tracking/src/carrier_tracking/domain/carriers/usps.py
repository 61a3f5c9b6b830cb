"""USPS: tracking event codes (01 delivered, 02 notice left, 03 accepted, 10 processed, ...).

Sources (read 2026-12-04):
- USPS Tracking 3.0 API, https://developers.usps.com/trackingv3 (`trackingEvents[]`:
  `eventType`, `eventTimestamp` local, `GMTTimestamp`, `GMTOffset`, `eventCode`, `eventCity`,
  `eventState`, `eventZIP`, `eventCountry`).
- USPS Publication 199 (Intelligent Mail Package Barcode Implementation Guide), appendix of
  event codes, https://postalpro.usps.com/pub199

Codes 21-31 name why an item could not be delivered; it then comes back with 09.
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, exc, info, ms

CODES: dict[str, Entry] = {
    "GX": ms("label_created", "Shipping label created, USPS awaiting item"),
    "MA": ms("label_created", "Pre-shipment info sent to USPS (manifest acknowledgement)"),
    "03": ms("picked_up", "Accepted at USPS origin facility"),
    "OA": ms("picked_up", "Accepted at USPS origin facility"),
    "80": ms("picked_up", "Picked up by shipping partner"),
    "10": ms("in_transit", "Processed through USPS facility"),
    "07": ms("in_transit", "Arrival at unit"),
    "A1": ms("in_transit", "Arrived at USPS facility"),
    "L1": ms("in_transit", "Departed USPS facility"),
    "SF": ms("in_transit", "Departed post office"),
    "PC": ms("in_transit", "Sorting complete"),
    "NT": ms("in_transit", "In transit to next facility"),
    "TL": ms("in_transit", "In transit to next facility"),
    "T1": ms("in_transit", "In transit"),
    "81": ms("in_transit", "Arrived at shipping partner facility"),
    "82": ms("in_transit", "Departed shipping partner facility"),
    "06": ms("in_transit", "Forwarded"),
    "59": ms("out_for_delivery", "Out for delivery"),
    "OF": ms("out_for_delivery", "Out for delivery"),
    "02": ms("delivery_attempted", "Notice left (no authorised recipient available)"),
    "52": ms("delivery_attempted", "Notice left (receptacle full or item oversized)"),
    "51": ms("delivery_attempted", "Business closed"),
    "16": ms("available_for_pickup", "Available for pickup"),
    "01": ms("delivered", "Delivered"),
    "17": ms("delivered", "Picked up by agent"),
    "43": ms("delivered", "Picked up at post office"),
    "09": ms("returned_to_sender", "Return to sender"),
    "04": exc("refused", "Refused"),
    "05": exc("address_problem", "Undeliverable as addressed"),
    "21": exc("address_problem", "No such number"),
    "22": exc("address_problem", "Insufficient address"),
    "23": exc("address_problem", "Moved, left no address"),
    "24": exc("address_problem", "Forward expired"),
    "25": exc("address_problem", "Addressee unknown"),
    "26": exc("address_problem", "Vacant"),
    "27": exc("unclaimed", "Unclaimed"),
    "28": exc("recipient_unavailable", "Deceased"),
    "29": exc("other", "Returned to sender: other"),
    "31": exc("unclaimed", "Not picked up"),
    "08": exc("misrouted", "Missent"),
    "MR": info("Tracking information requested"),
}
