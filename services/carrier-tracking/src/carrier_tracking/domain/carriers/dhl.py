"""DHL: unified status codes (pre-transit, transit, delivered, failure, unknown) and the common
DHL Express checkpoint event codes (PU, PL, DF, AF, AR, WC, OK, NH, RD, BA, ...).

The event code is looked up first; the unified status code is the fallback.
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, exc, info, ms

CODES: dict[str, Entry] = {
    # unified status codes
    "PRE_TRANSIT": ms("label_created", "Pre-transit: shipment data received"),
    "TRANSIT": ms("in_transit", "In transit"),
    "DELIVERED": ms("delivered", "Delivered"),
    "FAILURE": exc(None, "Failure"),
    "UNKNOWN": info("Unknown status"),
    # checkpoint event codes
    "PU": ms("picked_up", "Shipment picked up"),
    "SA": ms("picked_up", "Shipment acceptance"),
    "PL": ms("in_transit", "Processed at location"),
    "DF": ms("in_transit", "Departed facility"),
    "AF": ms("in_transit", "Arrived at facility"),
    "AR": ms("in_transit", "Arrived at delivery facility"),
    "TR": ms("in_transit", "Transferred through"),
    "IC": ms("in_transit", "In clearance processing"),
    "CR": ms("in_transit", "Customs clearance released"),
    "WC": ms("out_for_delivery", "With delivery courier"),
    "NH": ms("delivery_attempted", "Not home: delivery attempted"),
    "CA": ms("delivery_attempted", "Closed on arrival: delivery attempted"),
    "CC": ms("available_for_pickup", "Awaiting collection by consignee"),
    "OK": ms("delivered", "Delivered"),
    "DD": ms("delivered", "Delivered damaged"),
    "RT": ms("returned_to_sender", "Returned to shipper"),
    "RD": exc("refused", "Refused delivery"),
    "BA": exc("address_problem", "Bad address"),
    "CM": exc("address_problem", "Consignee moved"),
    "CD": exc("customs", "Controllable clearance delay"),
    "UD": exc("customs", "Uncontrollable clearance delay"),
    "HP": exc("payment_required", "Held for payment"),
    "OH": exc("held", "Shipment on hold"),
    "SS": exc("held", "Shipment stopped"),
    "MS": exc("misrouted", "Missorted"),
    "MD": exc("delayed", "Missed delivery cycle"),
    "TD": exc("delayed", "Transport delay"),
}
