"""What the simulated carriers send: native scan codes per carrier and what each one means.

Written from public knowledge of each carrier's codes (UPS activity types, FedEx event types,
DHL checkpoint codes, USPS event codes), independently of distsync's own tables: the simulator
is the carrier, and this is what its scans mean in the contract's milestones.
"""

from __future__ import annotations

from dataclasses import dataclass

# Contract section 4 milestones, ranked the way a parcel moves; an exception holds until a
# later scan, and delivered is the end.
MILESTONE_RANK = {
    "label_created": 0,
    "picked_up": 1,
    "in_transit": 2,
    "out_for_delivery": 3,
    "delivery_attempted": 3,
    "available_for_pickup": 3,
    "delivered": 4,
    "returned_to_sender": 4,
}
TERMINAL_MILESTONES = ("delivered", "returned_to_sender")


@dataclass(frozen=True)
class Code:
    code: str
    milestone: str | None  # None: informational, moves nothing
    description: str
    reason: str | None = None  # exception reason, when the code says one


def _c(code: str, milestone: str | None, description: str, reason: str | None = None) -> Code:
    return Code(code, milestone, description, reason)


# step -> codes a carrier uses for it
PROFILES: dict[str, dict[str, tuple[Code, ...]]] = {
    "ups": {
        "label": (_c("M", "label_created", "Billing information received"),),
        "pickup": (_c("P", "picked_up", "Pickup scan"), _c("OR", "picked_up", "Origin scan")),
        "transit": (
            _c("AR", "in_transit", "Arrived at facility"),
            _c("DP", "in_transit", "Departed from facility"),
            _c("I", "in_transit", "In transit"),
        ),
        "ofd": (_c("O", "out_for_delivery", "Out for delivery"),),
        "attempt": (),
        "delivered": (_c("D", "delivered", "Delivered"),),
        "exception": (_c("X", "exception", "Exception: severe weather"),),
        "info": (_c("NA", None, "Not available"),),
    },
    "fedex": {
        "label": (_c("OC", "label_created", "Shipment information sent to FedEx"),),
        "pickup": (_c("PU", "picked_up", "Picked up"),),
        "transit": (
            _c("AR", "in_transit", "Arrived at FedEx location"),
            _c("DP", "in_transit", "Departed FedEx location"),
            _c("IT", "in_transit", "In transit"),
        ),
        "ofd": (_c("OD", "out_for_delivery", "On FedEx vehicle for delivery"),),
        "attempt": (),
        "delivered": (_c("DL", "delivered", "Delivered"),),
        "exception": (_c("DY", "exception", "Delay", "delayed"),),
        "info": (_c("AP", None, "At pickup location"),),
    },
    "dhl": {
        "label": (_c("pre-transit", "label_created", "Shipment data received"),),
        "pickup": (_c("PU", "picked_up", "Shipment picked up"),),
        "transit": (
            _c("PL", "in_transit", "Processed at location"),
            _c("DF", "in_transit", "Departed facility"),
            _c("AF", "in_transit", "Arrived at facility"),
        ),
        "ofd": (_c("WC", "out_for_delivery", "With delivery courier"),),
        "attempt": (_c("NH", "delivery_attempted", "Not home: delivery attempted"),),
        "delivered": (_c("OK", "delivered", "Delivered"),),
        "exception": (_c("BA", "exception", "Bad address", "address_problem"),),
        "info": (_c("unknown", None, "Unknown status"),),
    },
    "usps": {
        "label": (_c("GX", "label_created", "Shipping label created"),),
        "pickup": (_c("03", "picked_up", "Accepted at USPS origin facility"),),
        "transit": (
            _c("10", "in_transit", "Processed through USPS facility"),
            _c("07", "in_transit", "Arrival at unit"),
        ),
        "ofd": (_c("59", "out_for_delivery", "Out for delivery"),),
        "attempt": (_c("02", "delivery_attempted", "Notice left"),),
        "delivered": (_c("01", "delivered", "Delivered"),),
        "exception": (_c("05", "exception", "Undeliverable as addressed", "address_problem"),),
        "info": (_c("MR", None, "Tracking information requested"),),
    },
}

CARRIER_WEIGHTS = {"ups": 0.35, "fedex": 0.3, "dhl": 0.15, "usps": 0.2}


def meaning(carrier: str, code: str) -> Code:
    for codes in PROFILES[carrier].values():
        for c in codes:
            if c.code == code:
                return c
    raise KeyError(f"{carrier} code {code!r} is not one the simulator sends")


@dataclass(frozen=True)
class CarrierState:
    """Where a parcel is: its milestone and the exception reason when it is in exception."""

    milestone: str | None
    reason: str | None
    at_ms: int | None


def replay(scans: list[tuple[int, str, str]]) -> tuple[CarrierState, list[CarrierState]]:
    """(time in ms, carrier, code) scans in time order -> final state and each change.

    Milestones never move back, delivered ends the story, an exception holds until a later
    non-exception scan; informational codes change nothing. Scans sharing a time are taken
    in the order given (the simulator never sends two different codes at one time).
    """
    progress: str | None = None
    raised: tuple[str | None, int] | None = None  # (reason, at) while in exception
    shown = CarrierState(None, None, None)
    changes: list[CarrierState] = []
    seen: set[tuple[int, str, str]] = set()
    for at, carrier, code in sorted(scans, key=lambda s: s[0]):
        if (at, carrier, code) in seen:
            continue
        seen.add((at, carrier, code))
        m = meaning(carrier, code).milestone
        if m is None or progress in TERMINAL_MILESTONES:
            continue
        if m == "exception":
            raised = (meaning(carrier, code).reason or meaning(carrier, code).description, at)
            now = CarrierState("exception", raised[0], at)
        elif progress is None or MILESTONE_RANK[m] >= MILESTONE_RANK[progress]:
            progress, raised = m, None
            now = CarrierState(m, None, at)
        elif raised is not None:
            raised = None
            now = CarrierState(progress, None, at)
        else:
            continue
        if now.milestone != shown.milestone or (
            now.milestone == "exception" and now.at_ms != shown.at_ms
        ):
            changes.append(now)
        shown = now
    return shown, changes
