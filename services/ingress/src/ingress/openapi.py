"""How the ingress's POST routes describe themselves in its OpenAPI document."""

from __future__ import annotations

from typing import Any

from shared.http import problem

_EVENT = {"type": "object", "description": "A CloudEvents 1.0 event (contract §1)"}
_OUTCOMES = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": ["accepted", "duplicate", "in_flight", "conflict", "failed"],
                    },
                    "reason": {"type": "string"},
                    "links": {
                        "type": "object",
                        "properties": {"status": {"type": "string", "format": "uri"}},
                    },
                },
            },
        }
    },
}

EVENTS_DOC: dict[str, Any] = {
    "responses": {
        202: {
            "description": "Every event was published with a broker confirm (or had been "
            "before: `duplicate`). For one `order.created`, `Location` is where its status is "
            "followed.",
            "content": {"application/json": {"schema": _OUTCOMES}},
        },
        400: problem("The body, or an event's envelope, cannot be read: `events` says which"),
        403: problem("The caller may not publish as an event's source system"),
        409: problem("An id was used for another event, or is being published right now"),
        415: problem("Binary mode with data that is not JSON"),
        422: problem("An event's type or data is refused: `events` lists each, none published"),
        503: problem("The broker did not take every event: send the same request again"),
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": {"schema": _EVENT},
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": _EVENT}
                },
                "application/json": {
                    "schema": {
                        "description": "binary mode: the event's data; attributes "
                        "travel as ce-* headers"
                    }
                },
            },
        }
    },
}

FILES_DOC: dict[str, Any] = {
    "responses": {
        202: {"description": "The file was read; its report (rows accepted and refused)"},
        404: problem("Unknown file kind"),
        422: problem("Nothing in the file could be accepted; the report says why"),
        503: problem("The broker did not take every event: send the file again"),
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
}
