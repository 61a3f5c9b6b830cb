"""One tracking number's state: a pure function of the set of scans and shipments seen.

Scans are kept sorted by scan time and replayed in that order to find the current milestone,
so arrival order never matters: a late scan lands in its place and the milestone is recomputed.
Rules of the replay: milestones are ranked and never move back; `delivered` and
`returned_to_sender` are terminal; an exception holds until a later non-exception scan; codes
the carrier's table does not know (or knows as informational) change nothing.
"""

from __future__ import annotations

from datetime import datetime

from carrier_tracking.domain.carriers import Classification, ExceptionReason, Milestone, classify
from carrier_tracking.domain.carriers.table import normalise_code
from carrier_tracking.messages import TrackingUpdated
from shared.schema import Frozen

MAX_SCANS = 500

RANK: dict[str, int] = {
    "label_created": 0,
    "picked_up": 1,
    "in_transit": 2,
    "out_for_delivery": 3,
    "delivery_attempted": 3,
    "available_for_pickup": 3,
    "delivered": 4,
    "returned_to_sender": 4,
}
TERMINAL = frozenset({"delivered", "returned_to_sender"})
# Order of scans sharing one timestamp: the further step is replayed last.
_SAME_TIME_WEIGHT: dict[str | None, int] = {
    None: -1,
    "label_created": 0,
    "picked_up": 1,
    "in_transit": 2,
    "exception": 3,
    "out_for_delivery": 4,
    "delivery_attempted": 4,
    "available_for_pickup": 4,
    "delivered": 5,
    "returned_to_sender": 5,
}


class TooManyScans(ValueError):
    """A tracking number with more scans than any real parcel has: refuse, do not grow."""


class Registration(Frozen):
    """What `shipment.shipped` said about the tracking number."""

    shipment_id: str
    order_id: str
    carrier: str
    location: str | None = None
    shipped_at: datetime
    event_id: str


class Scan(Frozen):
    """One native scan, as reported; its meaning is looked up when replayed."""

    carrier: str
    native_code: str
    native_type: str | None = None
    description: str | None = None
    location: str | None = None
    time: datetime
    event_id: str

    @property
    def key(self) -> tuple[str, str, datetime]:
        """Same carrier, code and scan time: the same scan, whatever the event id."""
        return (self.carrier, normalise_code(self.native_code), self.time)

    def meaning(self) -> Classification:
        return classify(self.carrier, self.native_code, self.native_type)


class Status(Frozen):
    milestone: Milestone
    exception_reason: ExceptionReason | None = None
    carrier: str
    native_code: str
    description: str | None = None
    at: datetime
    previous: Milestone | None = None


class HistoryEntry(Frozen):
    time: datetime
    carrier: str
    native_code: str
    native_type: str | None
    description: str | None
    location: str | None
    milestone: Milestone | None
    exception_reason: ExceptionReason | None
    unmapped: bool
    event_id: str


class Tracking(Frozen):
    tracking_number: str
    registration: Registration | None = None
    scans: tuple[Scan, ...] = ()

    @property
    def carrier(self) -> str:
        if self.registration is not None:
            return self.registration.carrier
        return self.scans[0].carrier if self.scans else ""


def _order(scan: Scan) -> tuple[datetime, int, str, str, str]:
    return (
        scan.time,
        _SAME_TIME_WEIGHT[scan.meaning().milestone],
        normalise_code(scan.native_code),
        scan.carrier,
        scan.event_id,
    )


def _status(scan: Scan, milestone: Milestone, reason: ExceptionReason | None = None) -> Status:
    return Status(
        milestone=milestone,
        exception_reason=reason,
        carrier=scan.carrier,
        native_code=scan.native_code,
        description=scan.description,
        at=scan.time,
    )


def current_status(state: Tracking) -> Status | None:
    """Replay the scans in scan-time order; None until a scan maps to a milestone."""
    progress: Status | None = None
    raised: Status | None = None
    previous: Milestone | None = None
    for scan in state.scans:
        c = scan.meaning()
        if c.milestone is None:
            continue
        if progress is not None and progress.milestone in TERMINAL:
            break
        shown = raised or progress
        if c.milestone == "exception":
            raised = _status(scan, "exception", c.reason)
        elif progress is None or RANK[c.milestone] >= RANK[progress.milestone]:
            progress, raised = _status(scan, c.milestone), None
        elif raised is not None:
            # A later scan of a lower rank still clears the exception; the milestone stays.
            progress, raised = _status(scan, progress.milestone), None
        else:
            continue
        now = raised or progress
        if shown is not None and now is not None and shown.milestone != now.milestone:
            previous = shown.milestone
    current = raised or progress
    return current.model_copy(update={"previous": previous}) if current else None


def history(state: Tracking) -> list[HistoryEntry]:
    out = []
    for s in state.scans:
        c = s.meaning()
        out.append(
            HistoryEntry(
                time=s.time,
                carrier=s.carrier,
                native_code=s.native_code,
                native_type=s.native_type,
                description=s.description,
                location=s.location,
                milestone=c.milestone,
                exception_reason=c.reason,
                unmapped=c.unmapped,
                event_id=s.event_id,
            )
        )
    return out


def _update(state: Tracking, status: Status) -> TrackingUpdated:
    reg = state.registration
    return TrackingUpdated(
        shipment_id=reg.shipment_id if reg else None,
        order_id=reg.order_id if reg else None,
        carrier=state.carrier,
        tracking_number=state.tracking_number,
        milestone=status.milestone,
        native_code=status.native_code,
        description=status.description,
        exception_reason=status.exception_reason,
        at=status.at,
        previous_milestone=status.previous,
    )


def changes(before: Tracking, after: Tracking) -> list[TrackingUpdated]:
    """An update when the milestone changes, or when a new exception becomes the current state."""
    b, a = current_status(before), current_status(after)
    if a is None:
        return []
    if b is None or a.milestone != b.milestone:
        return [_update(after, a)]
    if a.milestone == "exception" and (a.at, a.carrier, a.native_code) != (
        b.at,
        b.carrier,
        b.native_code,
    ):
        return [_update(after, a)]
    return []


def record_scan(state: Tracking, scan: Scan) -> tuple[Tracking, list[TrackingUpdated]]:
    """Add a scan in scan-time order; a duplicate (same key) changes nothing that matters."""
    for i, old in enumerate(state.scans):
        if old.key == scan.key:
            if scan.event_id >= old.event_id:
                return state, []
            # Keep the smallest event id among duplicates, so the state ignores arrival order.
            scans = (*state.scans[:i], scan, *state.scans[i + 1 :])
            return state.model_copy(update={"scans": tuple(sorted(scans, key=_order))}), []
    if len(state.scans) >= MAX_SCANS:
        raise TooManyScans(f"{state.tracking_number} already has {MAX_SCANS} scans")
    after = state.model_copy(update={"scans": tuple(sorted((*state.scans, scan), key=_order))})
    return after, changes(state, after)


def _registration_order(r: Registration) -> tuple[datetime, str, str]:
    return (r.shipped_at, r.shipment_id, r.event_id)


def register(state: Tracking, reg: Registration) -> tuple[Tracking, list[TrackingUpdated]]:
    """Join the tracking number to its shipment; the earliest shipment.shipped wins a conflict.

    Scans that arrived first are announced again, now with the shipment and order ids.
    """
    old = state.registration
    if old is not None and _registration_order(old) <= _registration_order(reg):
        return state, []
    after = state.model_copy(update={"registration": reg})
    status = current_status(after)
    return after, [_update(after, status)] if status is not None else []


def is_new_scan(before: Tracking, after: Tracking) -> bool:
    return len(after.scans) > len(before.scans)


def shipped_to_delivered_seconds(before: Tracking, after: Tracking) -> float | None:
    """Set once: when a registered shipment first shows `delivered`."""

    def delivered(t: Tracking) -> Status | None:
        s = current_status(t)
        return s if t.registration is not None and s and s.milestone == "delivered" else None

    done = delivered(after)
    if done is None or delivered(before) is not None or after.registration is None:
        return None
    return max(0.0, (done.at - after.registration.shipped_at).total_seconds())
