"""The bounds of shared.bounds, and that every service's message models keep to them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.bounds import (
    MAX_FACTOR,
    MAX_ID_BYTES,
    MAX_ID_CHARS,
    MAX_QTY,
    MAX_TEXT_CHARS,
    MAX_TOTAL,
    TIME_MAX,
    TIME_MIN,
    BoundedDate,
    DateText,
    Delta,
    EventTimeWindow,
    Factor,
    Id,
    Qty,
    ShortStr,
    Text,
    Total,
    UtcDatetime,
)
from shared.settings import ServiceSettings
from shared.topology import all_services


def valid(tp: Any, v: Any) -> Any:
    return TypeAdapter(tp).validate_python(v)


def invalid(tp: Any, v: Any) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        TypeAdapter(tp).validate_python(v)
    return e.value


# -- the constants agree with one another --------------------------------------------------------


def test_a_line_in_base_units_stays_within_the_published_total():
    assert MAX_QTY * MAX_FACTOR <= MAX_TOTAL


def test_quantities_stay_exact_in_a_double():
    assert MAX_QTY * 1_000_000 < 2**53  # a quantity to a millionth
    assert MAX_TOTAL < 2**53  # a total to a whole unit


def test_the_time_bounds_leave_room_for_any_utc_offset():
    assert TIME_MAX + timedelta(hours=23, minutes=59) < datetime.max.replace(tzinfo=UTC)
    assert TIME_MIN.astimezone(timezone(timedelta(hours=-23, minutes=-59))).year == 1969


# -- strings -----------------------------------------------------------------------------------


def test_an_id_has_up_to_200_characters_of_any_kind():
    assert valid(Id, "SKU/1001 ß") == "SKU/1001 ß"
    assert valid(Id, "x" * MAX_ID_CHARS)
    invalid(Id, "x" * (MAX_ID_CHARS + 1))
    invalid(Id, "")


def test_an_id_fits_an_amqp_short_string_in_utf8():
    assert valid(Id, "é" * (MAX_ID_BYTES // 2))
    error = invalid(Id, "é" * (MAX_ID_BYTES // 2 + 1))
    assert "bytes" in str(error)


def test_a_short_string_may_be_empty_but_not_long():
    assert valid(ShortStr, "") == ""
    invalid(ShortStr, "x" * (MAX_ID_CHARS + 1))


def test_free_text_is_cut_rather_than_refused():
    assert valid(Text, "x" * (MAX_TEXT_CHARS + 500)) == "x" * MAX_TEXT_CHARS
    assert valid(Text, "short") == "short"
    invalid(Text, 5)


# -- numbers -----------------------------------------------------------------------------------

NOT_FINITE = [float("inf"), float("-inf"), float("nan"), "Infinity", "1e999", 10**400]


@pytest.mark.parametrize("v", NOT_FINITE)
@pytest.mark.parametrize("tp", [Qty, Delta, Factor, Total])
def test_no_quantity_type_accepts_a_number_that_is_not_finite(tp, v):
    invalid(tp, v)


def test_quantities_are_bounded_and_signed_where_they_must_be():
    assert valid(Qty, MAX_QTY) == MAX_QTY
    invalid(Qty, 1e308)
    invalid(Qty, -1)
    assert valid(Delta, -MAX_QTY) == -MAX_QTY
    invalid(Delta, -MAX_QTY * 2)
    invalid(Factor, 0)
    invalid(Factor, MAX_FACTOR * 2)
    assert valid(Total, MAX_TOTAL) == MAX_TOTAL
    invalid(Total, MAX_TOTAL * 2)


def test_sums_of_bounded_quantities_cannot_overflow():
    lines = [MAX_QTY] * 1_000_000
    assert math.isfinite(math.fsum(lines)) and math.isfinite(sum(lines))


# -- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "v",
    [
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00",
        "1969-12-31T23:59:59Z",
        "9999-12-31T00:00:01Z",
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_a_time_outside_the_calendar_range_is_a_validation_error_not_an_overflow(v):
    error = invalid(UtcDatetime, v)
    assert error.errors()[0]["type"] == "out_of_range"


def test_a_time_is_utc_and_a_naive_one_is_read_as_utc():
    t = valid(UtcDatetime, "2026-11-27T11:15:00+01:00")
    assert t == datetime(2026, 11, 27, 10, 15, tzinfo=UTC) and t.tzinfo is UTC
    assert valid(UtcDatetime, "2026-11-27T10:15:00").tzinfo is UTC
    assert valid(UtcDatetime, "9999-12-31") == TIME_MAX  # an ERP's "valid until" sentinel


def test_a_date_is_bounded_like_a_time():
    assert valid(BoundedDate, "2026-12-01") == date(2026, 12, 1)
    invalid(BoundedDate, "1969-12-31")


def test_a_date_text_keeps_what_the_publisher_wrote():
    assert valid(DateText, "2026-12-24") == "2026-12-24"
    assert valid(DateText, "2026-12-24T10:00:00+01:00") == "2026-12-24T10:00:00+01:00"
    invalid(DateText, "9999-12-31T23:00:00-05:00")
    invalid(DateText, "0001-01-01")
    invalid(DateText, "next week")


def test_the_event_time_window_says_why_a_time_is_outside():
    w = EventTimeWindow(max_age=timedelta(days=2), max_ahead=timedelta(minutes=5))
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert w.problem(now, now) is None
    assert w.problem(now + timedelta(minutes=5), now) is None
    assert "after now" in (w.problem(now + timedelta(minutes=6), now) or "")
    assert "before now" in (w.problem(now - timedelta(days=3), now) or "")
    assert w.problem(TIME_MAX, TIME_MIN) and w.problem(TIME_MIN, TIME_MAX)  # no overflow


def test_the_window_comes_from_the_settings(monkeypatch):
    default = ServiceSettings().event_time_window()
    assert default.max_age == timedelta(days=3650) and default.max_ahead == timedelta(hours=1)
    monkeypatch.setenv("DISTSYNC_EVENT_TIME_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("DISTSYNC_EVENT_TIME_MAX_AHEAD_S", "120")
    w = ServiceSettings().event_time_window()
    assert w == EventTimeWindow(max_age=timedelta(days=30), max_ahead=timedelta(seconds=120))


# -- every service's models --------------------------------------------------------------------

SERVICES = all_services()
CONSUMED = [(s.name, r.type, r.model) for s in SERVICES for r in s.routes]


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The models a model's fields hold (lines), found through its JSON schema's definitions."""
    out: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        for arg in getattr(field.annotation, "__args__", ()):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out.append(arg)
    return out


FIELD_NAMES = sorted(
    {n for _, _, m in CONSUMED for mm in [m, *_nested_models(m)] for n in mm.model_fields}
)
EVIL_SCALARS = st.one_of(
    st.sampled_from(
        [
            1e308,
            -1e308,
            float("inf"),
            float("-inf"),
            float("nan"),
            10**400,
            -(10**400),
            2**63,
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31",
            "0001-01-01",
            "x" * 5000,
            "é" * 150,
            "",
            " ",
            "\ud800",
            True,
            None,
        ]
    ),
    st.floats(),
    st.integers(),
    st.text(max_size=20),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
)
EVIL = st.recursive(
    EVIL_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=20,
)
EVIL_DATA = st.dictionaries(st.sampled_from(FIELD_NAMES), EVIL, max_size=12)


EDGE_VALUES = [
    1e308,
    -1e308,
    float("inf"),
    float("nan"),
    10**400,
    "1e999",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01",
    "x" * 5000,
    "é" * 150,
    "",
]


def _edge_payloads(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Each field of the model, and of the models its fields hold, set to each edge value."""
    out: list[dict[str, Any]] = []
    for name, field in model.model_fields.items():
        out += [{name: v} for v in EDGE_VALUES]
        for inner in _nested_models(model):
            if inner in getattr(field.annotation, "__args__", ()):
                out += [{name: [{n: v}]} for n in inner.model_fields for v in EDGE_VALUES]
                out += [{name: {"k": {n: v}}} for n in inner.model_fields for v in EDGE_VALUES]
        out += [{name: {v: 1}} for v in EDGE_VALUES if isinstance(v, str)]
    return out


@pytest.mark.parametrize(("service", "type_", "model"), CONSUMED, ids=lambda x: str(x))
def test_every_field_at_every_edge_fails_as_a_validation_error_only(service, type_, model):
    for data in _edge_payloads(model):
        try:
            model.model_validate(data)
        except ValidationError:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=EVIL_DATA)
def test_validating_any_data_raises_only_a_validation_error(data):
    for _, _, model in CONSUMED:
        try:
            model.model_validate(data)
        except ValidationError:
            pass


def _schema_properties(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    return schema.get("properties", {})


def _alternatives(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """A property's schemas other than null, references resolved (`X | None` is an anyOf)."""
    alts = schema.get("anyOf", [schema])
    out = []
    for a in alts:
        if a.get("type") == "null":
            continue
        if "$ref" in a:
            a = defs[a["$ref"].split("/")[-1]]
        out.append(a)
    return out


def _widening_problems(pub: dict[str, Any], con: dict[str, Any], path: str, defs) -> list[str]:
    """Where the consumer's schema is narrower than the publisher's: a bound it has and the
    publisher does not keep to."""
    problems = []
    for p in _alternatives(pub, defs[0]):
        for c in _alternatives(con, defs[1]):
            if c.get("type") != p.get("type") and "format" not in c:
                continue
            if "enum" in p:  # a Literal: its values are what is published
                problems += [
                    f"{path}: published {v!r}, accepted at most {c['maxLength']} characters"
                    for v in p["enum"]
                    if isinstance(v, str) and len(v) > c.get("maxLength", len(v))
                ]
                continue
            for key, wider in (("maximum", max), ("maxLength", max), ("minimum", min)):
                if key in c and (key not in p or wider(p[key], c[key]) != c[key]):
                    problems.append(f"{path}: published {key} {p.get(key)}, accepted {c[key]}")
            if p.get("type") == "array" and c.get("type") == "array":
                problems += _widening_problems(p["items"], c["items"], path + "[]", defs)
            pp, cp = _schema_properties(p, defs[0]), _schema_properties(c, defs[1])
            for name in pp.keys() & cp.keys():
                problems += _widening_problems(pp[name], cp[name], f"{path}.{name}", defs)
    return problems


PAIRS = [
    (pub_svc.name, con_svc.name, pub.type, pub.model, route.model)
    for pub_svc in SERVICES
    for pub in pub_svc.publishes
    for con_svc in SERVICES
    for route in con_svc.routes
    if route.type == pub.type and con_svc.name != pub_svc.name
]


def test_some_services_consume_what_others_publish():
    assert {(p, c, t) for p, c, t, _, _ in PAIRS} >= {
        ("receipt", "availability", "inbound.changed"),
        ("receipt", "availability", "receipt.confirmed"),
        ("returns", "availability", "returns.pending_changed"),
    }


@pytest.mark.parametrize(
    ("publisher", "consumer", "type_", "published", "accepted"), PAIRS, ids=lambda x: str(x)
)
def test_what_a_service_publishes_its_consumers_accept(
    publisher, consumer, type_, published, accepted
):
    ps, cs = published.model_json_schema(), accepted.model_json_schema()
    defs = (ps.get("$defs", {}), cs.get("$defs", {}))
    problems = []
    for name in ps["properties"].keys() & cs["properties"].keys():
        problems += _widening_problems(ps["properties"][name], cs["properties"][name], name, defs)
    assert not problems, f"{publisher} -> {consumer} {type_}: " + "; ".join(problems)


def test_every_published_quantity_is_bounded():
    for svc in SERVICES:
        for pub in svc.publishes:
            schema = pub.model.model_json_schema()
            defs = schema.get("$defs", {})
            unbounded = _unbounded_numbers(schema, defs, pub.type)
            assert not unbounded, f"{svc.name} publishes unbounded numbers: {unbounded}"


def _unbounded_numbers(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    out = []
    for name, prop in _schema_properties(schema, defs).items():
        for alt in _alternatives(prop, defs):
            if alt.get("type") == "number" and ("maximum" not in alt or "minimum" not in alt):
                out.append(f"{path}.{name}")
            if alt.get("type") == "array":
                out += _unbounded_numbers(alt["items"], defs, f"{path}.{name}[]")
            if "properties" in alt:
                out += _unbounded_numbers(alt, defs, f"{path}.{name}")
    return out
