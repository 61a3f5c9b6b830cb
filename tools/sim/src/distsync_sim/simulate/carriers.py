"""What the simulated carriers send, and the milestone their scans replay to.

The simulator is the carrier: which native codes each carrier sends at each step of a parcel's
journey is its own choice. What a code means (milestone, exception reason, text) is
carrier-tracking's table (`carrier_tracking.domain.carriers`), and the milestone ranks and
terminal milestones are carrier-tracking's too (`carrier_tracking.domain.tracking`); `replay`
restates contract section 4's rules on those tables without the service's code.
"""

from __future__ import annotations

from dataclasses import dataclass

from carrier_tracking.domain.carriers import ExceptionReason, Milestone, classify, table_for
from carrier_tracking.domain.carriers.table import normalise_code
from carrier_tracking.domain.tracking import RANK, TERMINAL

# carrier -> step of the journey -> the native codes the carrier sends for it (one at random)
PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    "ups": {
        "label": ("M",),
        "pickup": ("P", "OR"),
        "transit": ("AR", "DP", "I"),
        "ofd": ("O",),
        "attempt": (),
        "delivered": ("D",),
        "exception": ("X",),
        "info": ("NA",),
    },
    "fedex": {
        "label": ("OC",),
        "pickup": ("PU",),
        "transit": ("AR", "DP", "IT"),
        "ofd": ("OD",),
        "attempt": (),
        "delivered": ("DL",),
        "exception": ("DY",),
        "info": ("AP",),
    },
    "dhl": {
        "label": ("pre-transit",),
        "pickup": ("PU",),
        "transit": ("PL", "DF", "AF"),
        "ofd": ("WC",),
        "attempt": ("NH",),
        "delivered": ("OK",),
        "exception": ("BA",),
        "info": ("unknown",),
    },
    "usps": {
        "label": ("GX",),
        "pickup": ("03",),
        "transit": ("10", "07"),
        "ofd": ("59",),
        "attempt": ("02",),
        "delivered": ("01",),
        "exception": ("05",),
        "info": ("MR",),
    },
}

CARRIER_WEIGHTS = {"ups": 0.35, "fedex": 0.3, "dhl": 0.15, "usps": 0.2}


def description(carrier: str, code: str) -> str:
    """The text sent with a scan: the code's meaning in carrier-tracking's table."""
    return table_for(carrier)[normalise_code(code)].meaning


@dataclass(frozen=True)
class CarrierState:
    """Where a parcel is: its milestone and the exception reason when it is in exception."""

    milestone: Milestone | None
    reason: ExceptionReason | None
    at_ms: int | None


def replay(scans: list[tuple[int, str, str]]) -> tuple[CarrierState, list[CarrierState]]:
    """(time in ms, carrier, code) scans in time order -> final state and each change.

    Milestones never move back, a terminal milestone ends the story, an exception holds until
    a later non-exception scan; informational and unknown codes change nothing. Scans sharing
    a time are taken in the order given (the simulator never sends two different codes at one
    time).
    """
    progress: Milestone | None = None
    raised = False  # in exception
    shown = CarrierState(None, None, None)
    changes: list[CarrierState] = []
    seen: set[tuple[int, str, str]] = set()
    for at, carrier, code in sorted(scans, key=lambda s: s[0]):
        if (at, carrier, code) in seen:
            continue
        seen.add((at, carrier, code))
        c = classify(carrier, code)
        m = c.milestone
        if m is None or progress in TERMINAL:
            continue
        if m == "exception":
            raised = True
            now = CarrierState("exception", c.reason, at)
        elif progress is None or RANK[m] >= RANK[progress]:
            progress, raised = m, False
            now = CarrierState(m, None, at)
        elif raised:
            raised = False
            now = CarrierState(progress, None, at)
        else:
            continue
        if now.milestone != shown.milestone or (
            now.milestone == "exception" and now.at_ms != shown.at_ms
        ):
            changes.append(now)
        shown = now
    return shown, changes
