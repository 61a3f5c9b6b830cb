"""AMQP field values that survive JSON and MongoDB exactly, and times read from headers."""

from __future__ import annotations

import base64
import contextlib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared import failures as F


def to_jsonable(v: Any) -> Any:
    """AMQP field values as JSON; bytes, timestamps and decimals are tagged so they come back."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, datetime):
        return {"__datetime__": v.isoformat()}
    if isinstance(v, Decimal):
        return {"__decimal__": str(v)}
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    return str(v)


def from_jsonable(v: Any) -> Any:
    """The inverse of `to_jsonable`, in the types pamqp encodes (bytes come back as bytearray)."""
    if isinstance(v, dict):
        if len(v) == 1:
            ((k, x),) = v.items()
            if k == "__bytes__":
                return bytearray(base64.b64decode(x))
            if k == "__datetime__":
                return datetime.fromisoformat(x)
            if k == "__decimal__":
                return Decimal(x)
        return {k: from_jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_jsonable(x) for x in v]
    return v


def amqp_safe(v: Any) -> Any:
    """pamqp decodes a non-UTF-8 long string as bytes but only encodes bytearray."""
    if isinstance(v, dict) and not any(isinstance(x, (bytes, dict, list)) for x in v.values()):
        return v  # the usual case, and a hot path during replay
    if isinstance(v, bytes):
        return bytearray(v)
    if isinstance(v, dict):
        return {k: amqp_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [amqp_safe(x) for x in v]
    return v


def iso(t: datetime | None) -> str | None:
    return F._iso(t) if t is not None else None


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (`2026-11-27T03:00Z`, a date) or an age like `90s`, `15m`, `2h`, `3d` (ago)."""
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value)
    try:
        if m:
            unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
            return now - timedelta(seconds=float(m.group(1)) * unit)
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except ValueError as e:
        raise ValueError(f"not a time: {value!r} (use ISO 8601 or an age like 2h)") from e
    except OverflowError as e:
        raise ValueError(f"not a time: {value!r} (outside the years 0001-9999 in UTC)") from e


def _header_time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (str, bytes, bytearray)) and len(v) <= 100:
        text = bytes(v).decode(errors="replace") if isinstance(v, (bytes, bytearray)) else v
        with contextlib.suppress(ValueError, OverflowError):
            return parse_time(text)
    return None


def _int(v: Any) -> int:
    """A count from a header of any type: 0 unless it reads as a whole number from 0 to 2**31
    (a count beyond that is garbage, and would not fit back into an AMQP header)."""
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode(errors="replace")
    try:
        n = int(v) if isinstance(v, (int, float, str)) and len(str(v)) <= 30 else 0
    except (ValueError, OverflowError):
        return 0
    return n if 0 <= n < 2**31 else 0


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode(errors="replace")
    return str(v)
