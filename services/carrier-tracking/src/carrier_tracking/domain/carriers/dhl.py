"""DHL: Shipment Tracking - Unified status codes and DHL Express checkpoint event codes.

Sources (read 2026-12-04):
- DHL Shipment Tracking - Unified API 1.4.x, https://developer.dhl.com/api-reference/shipment-tracking
  (`shipments[].events[].statusCode`: pre-transit, transit, delivered, failure, unknown).
- MyDHL API (DHL Express) 2.x, tracking, https://developer.dhl.com/api-reference/dhl-express-mydhl-api
  (`shipments[].events[].typeCode`, the Express checkpoint codes, with `description`), and
  DHL Express's checkpoint code reference list (the same two-letter codes as the XML
  services' `ServiceEvent/EventCode`).

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
    # DHL Express checkpoint event codes (the "typeCode" of MyDHL API events)
    "AD": info("Agreed delivery"),
    "AF": ms("in_transit", "Arrived facility"),
    "AR": ms("in_transit", "Arrival in delivery facility"),
    "BA": exc("address_problem", "Bad address"),
    "BL": info("Bond location"),
    "BN": info("Customer broker notified"),
    "BR": ms("in_transit", "Broker release"),
    "CA": ms("delivery_attempted", "Closed on arrival"),
    "CC": ms("available_for_pickup", "Awaiting consignee collection"),
    "CD": exc("customs", "Controllable clearance delay"),
    "CI": ms("in_transit", "Facility check-in"),
    "CM": exc("address_problem", "Customer moved"),
    "CR": ms("in_transit", "Clearance release"),
    "CS": info("Closed shipment"),
    "CU": ms("in_transit", "Confirm uplift"),
    "DD": ms("delivered", "Delivered damaged"),
    "DF": ms("in_transit", "Departed facility"),
    "DI": info("Duty invoice"),
    "DM": exc("damaged", "Damaged"),
    "DP": exc("held", "Denied parties"),
    "DS": exc("other", "Destroyed / disposal"),
    "ES": info("Entry submitted"),
    "FD": ms("in_transit", "Forward destination"),
    "HI": exc("held", "Lodged into held inventory control"),
    "HN": ms("in_transit", "Handover"),
    "HO": ms("in_transit", "Lodged out of held inventory control"),
    "HP": exc("payment_required", "Held for payment"),
    "IA": info("Image available"),
    "IC": ms("in_transit", "In clearance processing"),
    "IR": exc("misrouted", "Incorrect route"),
    "LV": ms("in_transit", "Load vehicle"),
    "MC": exc("misrouted", "Miscode"),
    "MD": exc("delayed", "Missed delivery cycle"),
    "MS": exc("misrouted", "Mis-sort"),
    "NA": exc("delayed", "Not arrived"),
    "ND": exc(None, "Not delivered"),
    "NH": ms("delivery_attempted", "Not home"),
    "OH": exc("held", "On hold"),
    "OK": ms("delivered", "Delivery"),
    "PD": ms("delivered", "Partial delivery"),
    "PL": ms("in_transit", "Processed at location"),
    "PU": ms("picked_up", "Shipment pick up"),
    "PY": info("Payment"),
    "RD": exc("refused", "Refused delivery"),
    "RR": info("Response received"),
    "RT": ms("returned_to_sender", "Returned to consignor"),
    "RW": ms("in_transit", "Weigh and dimension"),
    "SA": ms("picked_up", "Shipment acceptance"),
    "SC": info("Service changed"),
    "SI": info("Shipment inspection"),
    "SM": info("Scheduled movement"),
    "SS": exc("held", "Shipment stopped"),
    "ST": exc("held", "Shipment intercept"),
    "TD": exc("delayed", "Transport delay"),
    "TI": info("Trace initiated"),
    "TP": info("Forwarded to a third party: no delivery details expected"),
    "TR": ms("in_transit", "Record of transfer"),
    "TT": info("Trace terminated"),
    "UD": exc("customs", "Uncontrollable clearance delay"),
    "UV": ms("in_transit", "Unload vehicle"),
    "WC": ms("out_for_delivery", "With delivering courier"),
}
