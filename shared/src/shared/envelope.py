"""Parsing a message body into a CloudEvent within the bounds of `shared.bounds`: any bytes give
an event or an `EnvelopeError` with its failure kind. The model itself is `shared.cloudevent`."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared.bounds import (
    MAX_BODY_BYTES,
    MAX_EXTENSION_NAME_CHARS,
    MAX_EXTENSION_VALUE_CHARS,
    MAX_EXTENSIONS,
    MAX_ID_BYTES,
    MAX_JSON_DEPTH,
    EventTimeWindow,
    fits_short_string,
)
from shared.cloudevent import (
    CONTENT_TYPE,
    CloudEvent,
    amqp_properties,
    build,
    encode,
    format_time,
    new_id,
    now,
)

DEFAULT_WINDOW = EventTimeWindow()
ATTRIBUTES = frozenset(CloudEvent.model_fields)
"""The envelope attributes distsync knows; any other top-level member is an extension."""


class EnvelopeError(ValueError):
    """The body is not a valid CloudEvent; carries a reason an operator can read.

    `kind` is the failure-kind the message is dead-lettered with, at once: `malformed` (not
    UTF-8 JSON), `too_large` (body size, nesting depth or number of extensions beyond the
    bounds), `not_cloudevent` (JSON, but not a CloudEvent within the bounds) or `out_of_range`
    (an event time outside the calendar or the accepted window around now)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


_SHORT_STRINGS = ("id", "source", "type", "datacontenttype", "correlationid", "causationid")
"""Attributes that become AMQP short strings (message_id, type, correlation_id...): the parser
also holds them to MAX_ID_BYTES of UTF-8, which only a non-ASCII body can exceed."""

_ERRORS_SHOWN = 5  # validation errors a summary names; the rest are counted
_BOM = b"\xef\xbb\xbf"
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'[]{}"')
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")


def parse(
    body: bytes,
    *,
    window: EventTimeWindow | None = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> CloudEvent:
    """Parse a message body. Any bytes give a CloudEvent or an EnvelopeError, never another
    exception, so that every refusal is dead-lettered at once with its reason. The event time
    must lie in `window` around `now` (default: the current time); `window=None` checks only
    that it is a time the calendar can hold."""
    try:
        return _parse(body, window, now)
    except EnvelopeError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # a failure not foreseen below is still a refusal, never a retry
        raise EnvelopeError("malformed", f"body cannot be read: {type(e).__name__}: {e}") from e


def _parse(body: bytes, window: EventTimeWindow | None, now: datetime | None) -> CloudEvent:
    if len(body) > MAX_BODY_BYTES:
        raise EnvelopeError(
            "too_large", f"body is {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted"
        )
    # brackets counted in C first: only a body with more of them than the limit is scanned
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _deeper_than(body, MAX_JSON_DEPTH):
        raise EnvelopeError("too_large", f"JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        text = (body[3:] if body.startswith(_BOM) else body).decode("utf-8")
    except UnicodeDecodeError as e:
        raise EnvelopeError("malformed", f"body is not valid JSON: not UTF-8 ({e})") from e
    try:
        raw = _DECODER.decode(text)
    except RecursionError as e:
        raise EnvelopeError(
            "too_large", f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"
        ) from e
    except ValueError as e:  # JSONDecodeError, NaN/Infinity, integers of over 4300 digits
        raise EnvelopeError("malformed", f"body is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise EnvelopeError("not_cloudevent", "body is JSON but not an object")
    escaped = b"\\" in body
    if escaped and (b"\\ud" in body or b"\\uD" in body) and _has_lone_surrogate(raw):
        raise EnvelopeError(
            "malformed",
            "body is not valid JSON: a \\uD800-\\uDFFF escape is not part of a surrogate pair",
        )
    if not raw.keys() <= ATTRIBUTES:
        _check_extensions(raw)
    try:
        ev = CloudEvent.model_validate(raw)
    except ValidationError as e:
        kind = "out_of_range" if _time_out_of_range(e) else "not_cloudevent"
        raise EnvelopeError(kind, "not a CloudEvent: " + short_errors(e)) from e
    if escaped or not body.isascii():  # else every character is one byte
        _check_short_strings(ev)
    if window is not None:
        problem = window.problem(ev.time, now if now is not None else datetime.now(UTC))
        if problem is not None:
            raise EnvelopeError("out_of_range", problem)
    return ev


def _deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep, found without recursion and in
    C. Escaped backslashes and quotes are removed, then all but brackets and quotes; quotes
    toggle between text and structure, so pairs of adjacent quotes go too, and only text that
    holds brackets needs the regular expression. Brackets become parentheses, and each pass of
    `replace` removes the innermost pairs, one level. Unbalanced brackets are left to the JSON
    parser, which refuses them (and whose RecursionError is caught)."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    s = body.translate(None, _NOT_BRACKET_OR_QUOTE).replace(b'""', b"")
    if b'"' in s:
        s = _STRING.sub(b"", s)
    s = s.translate(_TO_PARENS)
    run = b"(" * (limit + 1)  # so many openers in a row: too deep, whatever follows
    for _ in range(limit):
        if run in s:
            return True
        shorter = s.replace(b"()", b"")
        if len(shorter) == len(s):
            return False
        s = shorter
    return b"()" in s


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _has_lone_surrogate(o: Any) -> bool:
    """True when a string holds half of a surrogate pair, which no UTF-8 text (nor MongoDB)
    can store; only called on bodies that hold a `\\uD` escape. Depth is bounded above."""
    if isinstance(o, str):
        try:
            o.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(o, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in o.items())
    if isinstance(o, list):
        return any(_has_lone_surrogate(v) for v in o)
    return False


def _check_short_strings(ev: CloudEvent) -> None:
    for name in _SHORT_STRINGS:
        v = getattr(ev, name)
        if v is not None and not fits_short_string(v):
            raise EnvelopeError(
                "not_cloudevent", f"not a CloudEvent: {name}: longer than {MAX_ID_BYTES} bytes"
            )


def _check_extensions(raw: dict[str, Any]) -> None:
    """Unknown top-level members are extensions: few, with short names and scalar values."""
    extensions = [k for k in raw if k not in ATTRIBUTES]
    if len(extensions) > MAX_EXTENSIONS:
        raise EnvelopeError(
            "too_large",
            f"{len(extensions)} extension attributes; at most {MAX_EXTENSIONS} are accepted",
        )
    for name in extensions:
        if not 0 < len(name) <= MAX_EXTENSION_NAME_CHARS:
            raise EnvelopeError(
                "not_cloudevent",
                f"extension name {name[:80]!r} must have 1 to "
                f"{MAX_EXTENSION_NAME_CHARS} characters",
            )
        problem = _extension_value_problem(raw[name])
        if problem is not None:
            raise EnvelopeError("not_cloudevent", f"extension {name!r} {problem}")


def _extension_value_problem(v: Any) -> str | None:
    if isinstance(v, str):
        if len(v) > MAX_EXTENSION_VALUE_CHARS:
            return f"is {len(v)} characters long; at most {MAX_EXTENSION_VALUE_CHARS} are accepted"
        return None
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return None if -(2**63) <= v < 2**63 else "is an integer beyond 64 bits"
    if isinstance(v, float):
        return None if math.isfinite(v) else "is not a finite number"
    return "must be a string, a number, a boolean or null (CloudEvents attributes are scalars)"


def _time_out_of_range(e: ValidationError) -> bool:
    """The envelope is valid but for a time the calendar cannot hold."""
    return all(err["type"] == "out_of_range" and err["loc"] == ("time",) for err in e.errors())


def short_errors(e: ValidationError) -> str:
    """A compact, readable summary of pydantic errors: `field.path: message; ...`."""
    parts = []
    for err in e.errors()[:_ERRORS_SHOWN]:
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(e.errors()) - _ERRORS_SHOWN
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


__all__ = [
    "CONTENT_TYPE",
    "CloudEvent",
    "EnvelopeError",
    "amqp_properties",
    "build",
    "encode",
    "format_time",
    "new_id",
    "now",
    "parse",
    "short_errors",
]
