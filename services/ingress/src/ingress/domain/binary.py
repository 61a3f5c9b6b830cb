"""The CloudEvents HTTP binding, binary mode: `ce-*` headers and a body become one event object.

In binary mode every attribute travels as a header named `ce-<attribute>` whose value is
percent-encoded where it is not printable ASCII, `Content-Type` is `datacontenttype`, and the
body is `data` as it is. distsync's `data` is JSON (contract §1), so other content types are
refused. The object built here is then checked like a structured event (`shared.envelope`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

PREFIX = "ce-"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


class BinaryModeError(ValueError):
    """The request is not a binary-mode CloudEvent distsync can take; `status` is the HTTP
    status it deserves (400 unreadable, 415 a `data` that is not JSON)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json` (lower case)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    mt = media_type(content_type)
    return mt in ("application/json", "text/json") or mt.endswith("+json")


def is_binary(headers: Iterable[tuple[str, str]]) -> bool:
    return any(k.lower() == PREFIX + "specversion" for k, _ in headers)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def event_object(headers: Iterable[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """The event object a binary-mode request carries. Attribute values stay strings (the
    envelope model converts `time`); a repeated header is refused rather than guessed at."""
    event: dict[str, Any] = {}
    content_type: str | None = None
    for name, value in headers:
        low = name.lower()
        if low == "content-type":
            content_type = value
        if not low.startswith(PREFIX) or len(low) == len(PREFIX):
            continue
        attribute = low[len(PREFIX) :]
        if attribute == "data":
            raise BinaryModeError(400, "`data` travels as the body in binary mode, not a header")
        if attribute in event:
            raise BinaryModeError(400, f"header {name} is given more than once")
        try:
            event[attribute] = unquote(value.strip(), errors="strict")
        except UnicodeDecodeError as e:
            raise BinaryModeError(400, f"header {name} is not percent-encoded UTF-8") from e
    if content_type is not None:
        event["datacontenttype"] = media_type(content_type)
    if body.strip():
        if not is_json(content_type):
            raise BinaryModeError(
                415,
                f"data of type {media_type(content_type) or 'unknown'!r} is not accepted: "
                "distsync events carry JSON data (Content-Type: application/json)",
            )
        try:
            text = body.decode("utf-8-sig")
            event["data"] = _DECODER.decode(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise BinaryModeError(400, f"the body (the event's data) is not JSON: {e}") from e
    return event
