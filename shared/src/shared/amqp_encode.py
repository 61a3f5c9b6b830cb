"""AMQP content headers encoded quickly, byte for byte as pamqp encodes them.

Encoding the `headers` table was the largest single cost of publishing a dead letter or an
outbox event (a failure record carries some thirty header strings): pamqp dispatches every
value through several generic functions. `content_header_frame` encodes the common cases
(strings, integers, booleans, None, nested tables and lists) directly and hands anything else
(floats, decimals, timestamps in a table, bytearrays, subclasses, over-long keys, values AMQP
cannot hold) to pamqp, so the bytes, and the errors raised for what AMQP cannot encode, are
exactly pamqp's. `shared/tests/unit/test_amqp_encode.py` checks the equality on generated
properties. Properties classes that marshal themselves (`RawProperties`) keep their own way.
"""

from __future__ import annotations

import struct
from typing import Any

from pamqp import commands as spec
from pamqp import encode as pamqp_encode
from pamqp import frame as amqp_frame
from pamqp.header import ContentHeader

_PROPS = spec.Basic.Properties
_SLOTS: tuple[str, ...] = tuple(_PROPS.__slots__)
_FLAGS: dict[str, int] = dict(_PROPS.flags)
_TYPES: dict[str, str] = {name: getattr(_PROPS, "_" + name) for name in _SLOTS}
_HEADER_FRAME = 2
_FRAME_END = b"\xce"
_FRAME_START = struct.Struct(">BHI").pack
_HEADER_START = struct.Struct(">HxxQ").pack
_U32 = struct.Struct(">I").pack
_I16 = struct.Struct(">h").pack
_U16 = struct.Struct(">H").pack
_I32 = struct.Struct(">i").pack
_U32_UNSIGNED = struct.Struct(">I").pack
_I64 = struct.Struct(">q").pack
_EMPTY_TABLE = b"\x00\x00\x00\x00"
_BASIC_CLASS = spec.Basic.frame_id


class _Fallback(Exception):
    """A value this module does not encode itself: pamqp does it (or says why it cannot)."""


def content_header_frame(channel: int, body_size: int, props: Any) -> bytes:
    """The content header frame of a message with `props`; what pamqp's
    `frame.marshal(ContentHeader(properties=props, body_size=body_size), channel)` returns."""
    if type(props).marshal is _PROPS.marshal:
        try:
            payload = _HEADER_START(_BASIC_CLASS, body_size) + _properties(props)
        except Exception:  # _Fallback, or a value pamqp refuses too: pamqp says how
            pass
        else:
            return _FRAME_START(_HEADER_FRAME, channel, len(payload)) + payload + _FRAME_END
    return amqp_frame.marshal(ContentHeader(properties=props, body_size=body_size), channel)


def _properties(props: Any) -> bytes:
    flags = 0
    parts: list[bytes] = []
    for name in _SLOTS:
        value = getattr(props, name)
        if value is None or value == "":
            continue
        flags |= _FLAGS[name]
        kind = _TYPES[name]
        if kind == "shortstr":
            parts.append(_shortstr(value))
        elif kind == "table":
            parts.append(_table(value))
        elif kind == "octet" and type(value) is int and 0 <= value <= 255:
            parts.append(bytes((value,)))
        else:
            raise _Fallback
    if flags >> 16:
        raise _Fallback  # never for Basic.Properties (13 flags); pamqp's continuation bits
    return _U16(flags) + b"".join(parts)


def _shortstr(value: object) -> bytes:
    if type(value) is not str:
        raise _Fallback
    data = value.encode("utf-8") if not value.isascii() else value.encode("ascii")
    if len(data) > 255:
        raise _Fallback
    return bytes((len(data),)) + data


def _table(value: object) -> bytes:
    if type(value) is not dict:
        raise _Fallback
    if not value:
        return _EMPTY_TABLE
    parts: list[bytes] = []
    for key, item in sorted(value.items()):
        if type(key) is not str:
            raise _Fallback
        k = key.encode("utf-8")
        if len(k) > 128:
            raise _Fallback  # pamqp truncates it (and warns)
        parts.append(bytes((len(k),)) + k)
        parts.append(_value(item))
    out = b"".join(parts)
    return _U32(len(out)) + out


def _value(v: object) -> bytes:
    t = type(v)
    if t is str:
        data: bytes = v.encode("utf-8")  # type: ignore[attr-defined]
        return b"S" + _U32(len(data)) + data
    if t is bool:
        return b"t\x01" if v else b"t\x00"
    if t is int:
        return _integer(v)  # type: ignore[arg-type]
    if v is None:
        return b"V"
    if t is dict:
        return b"F" + _table(v)
    if t is list:
        out = b"".join(_value(x) for x in v)  # type: ignore[attr-defined]
        return b"A" + _U32(len(out)) + out
    try:
        return pamqp_encode.encode_table_value(v)  # type: ignore[arg-type]
    except Exception as e:
        raise _Fallback from e


def _integer(v: int) -> bytes:
    if pamqp_encode.DEPRECATED_RABBITMQ_SUPPORT:
        raise _Fallback
    if -128 <= v <= 127:
        return b"b" + (v & 0xFF).to_bytes(1, "big")
    if -32768 <= v <= 32767:
        return b"s" + _I16(v)
    if 0 <= v <= 65535:
        return b"u" + _U16(v)
    if -2147483648 <= v <= 2147483647:
        return b"I" + _I32(v)
    if 0 <= v <= 4294967295:
        return b"i" + _U32_UNSIGNED(v)
    if -9223372036854775808 <= v <= 9223372036854775807:
        return b"l" + _I64(v)
    raise _Fallback


__all__ = ["content_header_frame"]
