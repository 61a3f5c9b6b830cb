"""FedEx: track event types (`scanEvents[].eventType`) and derived status codes.

Sources (read 2026-12-04):
- FedEx Track API 1.0, https://developer.fedex.com/api/en-us/catalog/track/v1/docs.html
  (`output.completeTrackResults[].trackResults[].scanEvents[]`: `date`, `eventType`,
  `eventDescription`, `derivedStatusCode`, `exceptionCode`, `scanLocation`) and its
  "Tracking event types" / "Status codes" appendix.
- FedEx Advanced Integrated Visibility (shipment visibility webhook), which pushes the same
  `output.completeTrackResults` shape,
  https://developer.fedex.com/api/en-us/catalog/shipment-visibility-webhook/docs.html

FedEx's `derivedStatusCode` (IN, PU, IT, OD, DL, DE, SE, CA, RS, ...) mostly shares these
codes; it is the fallback when an event type is unknown. The event type always wins: FedEx
sends `HP` (ready for recipient pickup) with the derived status `IT` (in transit).
"""

from __future__ import annotations

from carrier_tracking.domain.carriers.table import Entry, exc, info, ms

CODES: dict[str, Entry] = {
    "OC": ms("label_created", "Shipment information sent to FedEx"),
    "IN": ms("label_created", "Initiated (label created)"),
    "PU": ms("picked_up", "Picked up"),
    "PX": ms("picked_up", "Picked up (see details)"),
    "IT": ms("in_transit", "In transit"),
    "IX": ms("in_transit", "In transit (see details)"),
    "AR": ms("in_transit", "Arrived at FedEx location"),
    "DP": ms("in_transit", "Departed FedEx location"),
    "AF": ms("in_transit", "At local FedEx facility"),
    "OF": ms("in_transit", "At FedEx origin facility"),
    "FD": ms("in_transit", "At FedEx destination facility"),
    "LO": ms("in_transit", "Left FedEx origin facility"),
    "AA": ms("in_transit", "At airport"),
    "EA": ms("in_transit", "Enroute to airport"),
    "EO": ms("in_transit", "Enroute to origin airport"),
    "PF": ms("in_transit", "Plane in flight"),
    "PL": ms("in_transit", "Plane landed"),
    "SF": ms("in_transit", "At sort facility"),
    "TR": ms("in_transit", "Transfer"),
    "CC": ms("in_transit", "Cleared customs"),
    "CP": ms("in_transit", "Clearance in progress"),
    "AX": ms("in_transit", "At USPS facility"),
    "AC": ms("in_transit", "At Canada Post facility"),
    "OX": ms("in_transit", "Shipment information sent to USPS"),
    "CH": ms("in_transit", "Location changed"),
    "ED": ms("out_for_delivery", "Enroute to delivery"),
    "OD": ms("out_for_delivery", "On FedEx vehicle for delivery"),
    "AD": ms("out_for_delivery", "At delivery location"),
    "HL": ms("available_for_pickup", "Hold at location: ready for recipient pickup"),
    "HP": ms("available_for_pickup", "Ready for recipient pickup"),
    "HA": info("Hold at location request accepted"),
    "AO": info("Shipment arriving on time"),
    "DL": ms("delivered", "Delivered"),
    "RS": ms("returned_to_sender", "Return to shipper"),
    "DE": exc(None, "Delivery exception"),
    "SE": exc(None, "Shipment exception"),
    "CA": exc("cancelled", "Shipment cancelled"),
    "CD": exc("customs", "Clearance delay"),
    "DD": exc("delayed", "Delivery delay"),
    "DY": exc("delayed", "Delay"),
    "PD": exc("delayed", "Pickup delay"),
    "AP": info("At pickup location"),
    "EP": info("Enroute to pickup"),
    "DS": info("Vehicle dispatched"),
    "DR": info("Vehicle furnished but not used"),
    "SP": info("Split status"),
    "PM": info("In progress"),
    "RR": info("Delivery option requested by recipient"),
    "RM": info("Delivery option modified by recipient"),
    "RC": info("Delivery option cancelled by recipient"),
    "RP": info("Return label link emailed to return sender"),
    "LP": info("Return label link cancelled by shipment originator"),
    "RG": info("Return label link expiring soon"),
    "RD": info("Return label link expired"),
}
