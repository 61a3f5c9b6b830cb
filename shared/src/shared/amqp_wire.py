"""Messages whose AMQP properties pamqp cannot decode, read instead of closing the connection.

pamqp raises on a content header it cannot decode: a timestamp past the year 9999 (a publisher
sending microseconds), a short string that is not UTF-8 (`message_id`, a header name), header
tables nested deeper than Python's recursion limit, an unknown field type. aiormq then closes the
whole connection, the message goes back to its queue and the next read fails the same way, so
nothing can consume, show or remove it. `tolerate_undecodable_properties` (called by every
connection of the runtime and of the DLQ tools) makes such a header decode leniently instead:
every property pamqp can read, out-of-range timestamps as None, strings with replacement
characters, tables deeper than `MAX_TABLE_DEPTH` as a placeholder text.
The result is a `RawProperties` that keeps the exact bytes received: republishing it (renewal,
restore) sends them unchanged. It is process-wide (pamqp has no per-connection decoder) and
changes nothing for a header pamqp decodes.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import pamqp.frame
from pamqp import commands as spec
from pamqp import decode
from pamqp.header import ContentHeader

MAX_TABLE_DEPTH = 32
TOO_DEEP = f"(a table nested deeper than {MAX_TABLE_DEPTH} levels, not decoded)"


class RawProperties(spec.Basic.Properties):
    """Properties decoded leniently from `raw`, the exact bytes received, which `marshal` sends
    back unchanged; `problem` says why pamqp could not decode them."""

    def __init__(self, raw: bytes, problem: str) -> None:
        super().__init__()
        self.raw = raw
        self.problem = problem

    def marshal(self) -> bytes:
        return self.raw


def tolerate_undecodable_properties() -> None:
    """Install the lenient content-header decoding (idempotent)."""
    current = pamqp.frame._unmarshal_header_frame
    if getattr(current, "_distsync_tolerant", False):
        return

    def unmarshal_header_frame(frame_data: bytes) -> ContentHeader:
        try:
            return current(frame_data)
        except Exception as e:  # UnmarshalingException, RecursionError, OverflowError, ...
            return undecodable_header(frame_data, e)

    unmarshal_header_frame._distsync_tolerant = True  # type: ignore[attr-defined]
    unmarshal_header_frame.__wrapped__ = current  # type: ignore[attr-defined]
    pamqp.frame._unmarshal_header_frame = unmarshal_header_frame


def undecodable_header(frame_data: bytes, error: BaseException) -> ContentHeader:
    """A content header for a frame pamqp refused: its sizes, and `RawProperties`."""
    if len(frame_data) < 14:
        raise error
    class_id, weight, body_size = struct.unpack(">HHQ", frame_data[:12])
    props = lenient_properties(frame_data[12:], _problem(error))
    header = ContentHeader(weight=weight, body_size=body_size, properties=props)
    header.class_id = class_id
    return header


def _problem(error: BaseException) -> str:
    cause = error.__cause__ if error.__cause__ is not None else error
    text = f"{type(cause).__name__}: {cause}"
    return text[:300]


def lenient_properties(data: bytes, problem: str) -> RawProperties:
    """Every property of `data` (flags, then values) that can be read, in a `RawProperties`."""
    props = RawProperties(bytes(data), problem)
    try:
        flags, pos = _flags(data)
        for name in spec.Basic.Properties.__slots__:
            if not flags & spec.Basic.Properties.flags[name]:
                continue
            kind = getattr(spec.Basic.Properties, "_" + name)
            value, pos = _property(data, pos, kind)
            setattr(props, name, value)
    except (struct.error, ValueError, IndexError) as e:
        props.problem = f"{problem}; the rest unreadable ({type(e).__name__})"[:400]
    return props


def _flags(data: bytes) -> tuple[int, int]:
    flags, pos, word = 0, 0, 0
    while True:
        (partial,) = struct.unpack_from(">H", data, pos)
        pos += 2
        flags |= partial << (word * 16)
        if not partial & 1:
            return flags, pos
        word += 1


def _property(data: bytes, pos: int, kind: str) -> tuple[Any, int]:
    if kind == "shortstr":
        return _short_str(data, pos)
    if kind == "octet":
        return data[pos], pos + 1
    if kind == "timestamp":
        (raw,) = struct.unpack_from(">Q", data, pos)
        return _timestamp(raw), pos + 8
    if kind == "table":
        return _table(data, pos, 1)
    raise ValueError(f"unknown property type {kind}")


def _short_str(data: bytes, pos: int) -> tuple[str, int]:
    n = data[pos]
    end = pos + 1 + n
    if end > len(data):
        raise ValueError("short string past the end")
    return data[pos + 1 : end].decode("utf-8", errors="replace"), end


def _timestamp(raw: int) -> datetime | None:
    """As pamqp reads it (above 2**32 it is taken as milliseconds); None when out of range."""
    seconds = raw / 1000.0 if raw > 0xFFFFFFFF else raw
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _sized(data: bytes, pos: int) -> tuple[int, int]:
    (length,) = struct.unpack_from(">I", data, pos)
    end = pos + 4 + length
    if end > len(data):
        raise ValueError("table or array past the end")
    return pos + 4, end


def _table(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    start, end = _sized(data, pos)
    if depth > MAX_TABLE_DEPTH:
        return TOO_DEEP, end
    out: dict[str, Any] = {}
    pos = start
    while pos < end:
        key, pos = _short_str(data, pos)
        out[key], pos = _value(data, pos, depth)
    return out, end


def _array(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    start, end = _sized(data, pos)
    if depth > MAX_TABLE_DEPTH:
        return TOO_DEEP, end
    out: list[Any] = []
    pos = start
    while pos < end:
        value, pos = _value(data, pos, depth)
        out.append(value)
    return out, end


def _value(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    kind = data[pos : pos + 1]
    pos += 1
    if kind == b"F":
        return _table(data, pos, depth + 1)
    if kind == b"A":
        return _array(data, pos, depth + 1)
    if kind == b"T":
        (raw,) = struct.unpack_from(">Q", data, pos)
        stamp = _timestamp(raw)
        return (stamp if stamp is not None else f"(timestamp {raw} out of range)"), pos + 8
    decoder = decode.TABLE_MAPPING.get(kind)
    if decoder is None:
        raise ValueError(f"unknown field type {kind!r}")
    consumed, value = decoder(data[pos:])
    return value, pos + consumed
