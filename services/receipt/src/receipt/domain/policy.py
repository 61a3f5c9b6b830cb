"""Receipt rules as data: what happens to units in each situation, and which exception it raises.

The domain classifies every received unit into exactly one `Situation`; the table below decides
whether those units are accepted or quarantined and which `receipt.exception` kind (if any) is
raised. Changing a policy means changing this table, not the code that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from receipt.messages import ExceptionKind

Disposition = Literal["accept", "quarantine"]

DEFAULT_TOLERANCE_PCT = 0.0
"""Over-receipt tolerance of a PO line whose release gives none (settings may override)."""


class Situation(StrEnum):
    WITHIN_TOLERANCE = "within_tolerance"  # on the PO line, up to ordered + tolerance
    OVER_TOLERANCE = "over_tolerance"  # on the PO line, beyond ordered + tolerance
    DAMAGED = "damaged"  # qty_damaged of a line, whatever else applies
    NOT_ON_PO = "not_on_po"  # SKU (or line) not on the purchase order
    SUBSTITUTE = "substitute"  # substitute_for_sku names a SKU on the PO
    BLIND = "blind"  # receipt without po_id
    MISSING_LOT = "missing_lot"  # lot-tracked PO line, receipt line without a lot
    PO_CANCELLED = "po_cancelled"  # received (event time) after the PO was cancelled
    SHORT = "short"  # PO cancelled after partial receipt: per line still short


@dataclass(frozen=True)
class Rule:
    disposition: Disposition | None  # None: the situation concerns no received units
    kind: ExceptionKind | None  # the exception raised, or None
    detail: str  # str.format template; fields: qty sku line_id ordered limit tolerance for


RULES: Mapping[Situation, Rule] = MappingProxyType(
    {
        Situation.WITHIN_TOLERANCE: Rule("accept", None, ""),
        Situation.OVER_TOLERANCE: Rule(
            "quarantine",
            "over_receipt",
            "{qty:g} {sku} beyond line {line_id}: ordered {ordered:g}, "
            "tolerance {tolerance:g}% allows {limit:g}",
        ),
        Situation.DAMAGED: Rule(
            "quarantine", "damaged", "{qty:g} {sku} received damaged on line {line_id}"
        ),
        Situation.NOT_ON_PO: Rule(
            "quarantine", "unexpected_item", "{qty:g} {sku} received but not on the purchase order"
        ),
        Situation.SUBSTITUTE: Rule(
            "quarantine",
            "substitution",
            "{qty:g} {sku} received as a substitute for {for} on line {line_id}",
        ),
        Situation.BLIND: Rule(
            "quarantine",
            "unexpected_item",
            "{qty:g} {sku} received without a purchase order (blind receipt)",
        ),
        Situation.MISSING_LOT: Rule(
            "quarantine",
            "missing_lot",
            "{qty:g} {sku} received without a lot on lot-tracked line {line_id}",
        ),
        Situation.PO_CANCELLED: Rule(
            "quarantine",
            "unexpected_item",
            "{qty:g} {sku} received after the purchase order was cancelled",
        ),
        Situation.SHORT: Rule(
            None,
            "short_receipt",
            "purchase order cancelled with {qty:g} {sku} of {ordered:g} still open on line "
            "{line_id}",
        ),
    }
)


RECHECK_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "quarantined": "RECEIVED_AFTER_PO_CANCELLED",  # withdrawn from the cancelled PO
        "released": "RECEIPT_RECHECKED",  # tolerance freed by withdrawn units
    }
)
"""`reason_code` of the `inventory.quarantined` / `inventory.released` a re-check publishes."""


def acceptance_limit(ordered: float, tolerance_pct: float) -> float:
    """Most units of a PO line that are accepted: ordered + tolerance."""
    return ordered * (1 + tolerance_pct / 100)
