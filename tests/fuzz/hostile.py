"""Hostile and careless messages, generated from each route's own schema.

A generator driven by a `random.Random`, so hypothesis (through `st.randoms()`) and a live run
with a fixed seed share it. Most fields get a value of the schema's shape, drawn from small
pools so that events meet on the same SKU, order or PO; some get a value from the edges: huge
or non-finite numbers, integers beyond 64 bits, calendar edges, long or odd strings, values of
the wrong kind, deep nesting. The envelope is sometimes broken too, and sometimes the body."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from shared.service import ServiceDefinition

POOL = ["A", "B", "SKU-1", "a/b"]
NUMBERS: list[Any] = [
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    10**30,
    2**63,
    -(2**63) - 1,
    -0.0,
    1e-320,
    0,
    -1,
    0.1,
    123456789012.5,
]
STRINGS: list[str] = [
    "",
    " ",
    "x" * 300,
    "é" * 200,
    "a/b",
    "../..",
    "\x00",
    "😀" * 70,
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:30:00+01:00",
    "1969-12-31T23:59:59Z",
    "NaN",
    "Infinity",
    "1e308",
]
TIMES = [
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:30:00+01:00",
    "1960-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "not a time",
    "2999-01-01T00:00:00Z",
]


def nested(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = [v]
    return v


def edge(r: random.Random) -> Any:
    """A value from the edges, of any kind."""
    kind = r.random()
    if kind < 0.4:
        return r.choice(NUMBERS)
    if kind < 0.8:
        return r.choice(STRINGS + TIMES)
    if kind < 0.85:
        return nested(r.choice([50, 500]))
    return r.choice([None, True, [], {}, {"a": 1}, ["x"] * 3])


class FromSchema:
    """Values shaped by a pydantic model's JSON schema, with edges mixed in at `rate`."""

    def __init__(self, model: type[BaseModel], rate: float) -> None:
        self.schema = model.model_json_schema()
        self.defs = self.schema.get("$defs", {})
        self.rate = rate

    def value(self, r: random.Random, s: dict[str, Any] | None = None, name: str = "") -> Any:
        s = self.schema if s is None else s
        if r.random() < self.rate:
            return edge(r)
        if "$ref" in s:
            return self.value(r, self.defs[s["$ref"].rsplit("/", 1)[-1]], name)
        for alt in ("anyOf", "oneOf"):
            if alt in s:
                return self.value(r, r.choice(s[alt]), name)
        if "allOf" in s:
            return self.value(r, s["allOf"][0], name)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return r.choice(s["enum"])
        t = s.get("type")
        if t == "object" or "properties" in s:
            props = s.get("properties", {})
            required = set(s.get("required", []))
            out = {
                k: self.value(r, v, k)
                for k, v in props.items()
                if k in required or r.random() < 0.5
            }
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                for _ in range(r.randint(0, 2)):
                    out[r.choice(["CS", "EA", "PL", "DC-EAST"])] = self.value(r, extra, name)
            return out
        if t == "array":
            return [self.value(r, s.get("items", {}), name) for _ in range(r.randint(0, 3))]
        if t == "string":
            fmt = s.get("format")
            if fmt == "date-time":
                t0 = datetime.now(UTC) - timedelta(hours=r.randint(0, 48))
                return (t0 + timedelta(seconds=r.randint(0, 3600))).isoformat()
            if fmt == "date":
                return (datetime.now(UTC) + timedelta(days=r.randint(-5, 30))).date().isoformat()
            return r.choice(POOL) if name.endswith(("id", "sku", "location")) else "t"
        if t == "integer":
            return r.randint(-3, 50)
        if t == "number":
            return r.choice([r.randint(-3, 50), round(r.uniform(0, 50), 2)])
        if t == "boolean":
            return r.random() < 0.5
        if t == "null":
            return None
        return r.choice(["t", 1, None])


def envelope(
    r: random.Random, svc: ServiceDefinition, *, rate: float = 0.15
) -> tuple[str, str, bytes, str]:
    """(exchange, routing key, body, id) of one message for one of `svc`'s routes."""
    route = r.choice(svc.routes)
    data = FromSchema(route.model, rate).value(r)
    ev_id = str(uuid.uuid4())
    env: dict[str, Any] = {
        "specversion": "1.0",
        "id": ev_id,
        "source": r.choice(["erp/main", "wms/dc-east", "carrier/ups", "commerce/web"]),
        "type": route.type,
        "time": (datetime.now(UTC) - timedelta(minutes=r.randint(0, 600))).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if r.random() < 0.5:
        env["correlationid"] = r.choice([*POOL, "C" * 300])
    if r.random() < rate:
        env[r.choice(["time", "correlationid", "causationid", "subject", "source", "type"])] = edge(
            r
        )
    if r.random() < rate / 2:
        env["ext" + str(r.randint(0, 9))] = edge(r)
    key = route.type
    if r.random() < rate / 3:
        key = r.choice(svc.routes).type
    body = json.dumps(env, default=str).encode()
    roll = r.random()
    if roll < rate / 4:
        body = body[: r.randint(0, len(body))]
    elif roll < rate / 3:
        body = b"\xff\xfe" + body
    elif roll < rate / 2.5:
        deep = b"[" * 10_000 + b"]" * 10_000
        body = body[:-1] + b',"deep":' + deep + b"}"
    return r.choice(route.exchanges), key, body, ev_id
