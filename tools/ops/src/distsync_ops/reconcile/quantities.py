"""Quantities and times as the reconciliation reads them: exact millionths of a base unit (the
precision availability keeps, contract §5) and UTC instants at millisecond precision."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

MICRO = 1_000_000
MAX_QTY = 1e15  # contract §10: the largest quantity distsync publishes
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)


def parse_qty(raw: object, name: str = "qty") -> Decimal:
    """A finite, non-negative quantity from text or a JSON number; ValueError says why not."""
    if isinstance(raw, bool) or raw is None or raw == "":
        raise ValueError(f"{name} is missing")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError(f"{name} is not a finite number")
    try:
        d = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{name} {str(raw)[:40]!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{name} is not a finite number")
    if d < 0:
        raise ValueError(f"{name} {d} is negative")
    if d > Decimal(MAX_QTY):
        raise ValueError(f"{name} {d} is larger than {MAX_QTY:.0e}")
    return d


def to_micro(qty: Decimal, factor: float = 1.0) -> int:
    """`qty` (times `factor` base units per unit) in millionths of the base unit."""
    d = _CTX.multiply(_CTX.multiply(qty, Decimal(repr(factor))), Decimal(MICRO))
    return int(d.to_integral_value(rounding=ROUND_HALF_EVEN))


def stored_micro(v: object) -> int:
    """A quantity as availability stores it (a float of base units) back in millionths."""
    return round(float(v or 0.0) * MICRO)  # type: ignore[arg-type]


def units(micro: int) -> float:
    return micro / MICRO


def fmt_units(micro: int) -> str:
    """A quantity for people and CSV files: exact, without trailing zeros."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}" + (f".{frac:06d}".rstrip("0") if frac else "")


@functools.lru_cache(maxsize=4096)  # a snapshot repeats a few times many times
def parse_time(raw: str) -> datetime:
    """An RFC 3339 / ISO 8601 time; without an offset it is UTC (contract §1). Truncated to
    milliseconds, the precision the services store."""
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of {raw[:40]!r} is not an ISO 8601 time") from None
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return ms(t)


def ms(t: datetime) -> datetime:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@functools.lru_cache(maxsize=4096)
def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return ms(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")
