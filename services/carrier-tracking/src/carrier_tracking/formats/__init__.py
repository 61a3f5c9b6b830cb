"""Each carrier's push bodies turned into scan reports, one module per carrier.

A format reads the body (a JSON object) into `Parsed`: the scans it could read and the ones
it skipped, with where and why. `PushShapeError` means the body is not the carrier's shape at
all. Models are listed for the OpenAPI document only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from carrier_tracking.formats import dhl, fedex, generic, ups, usps
from carrier_tracking.formats.common import (
    MAX_EVENTS,
    Parsed,
    PushShapeError,
    Report,
    Skipped,
)

__all__ = [
    "FORMATS",
    "MAX_EVENTS",
    "Format",
    "Parsed",
    "PushShapeError",
    "Report",
    "Skipped",
    "format_for",
]


@dataclass(frozen=True)
class Format:
    read: Callable[[dict[str, Any]], Parsed]
    models: tuple[type[BaseModel], ...]


FORMATS: dict[str, Format] = {
    "ups": Format(ups.read_ups, ups.MODELS),
    "fedex": Format(fedex.read_fedex, fedex.MODELS),
    "dhl": Format(dhl.read_dhl, dhl.MODELS),
    "usps": Format(usps.read_usps, usps.MODELS),
    "generic": Format(generic.read_generic, generic.MODELS),
}


def format_for(carrier: str) -> Format:
    """Carriers without a format of their own push the generic shape."""
    return FORMATS.get(carrier, FORMATS["generic"])
