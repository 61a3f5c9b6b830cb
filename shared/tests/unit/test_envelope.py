from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bounds import (
    MAX_BODY_BYTES,
    MAX_EXTENSION_VALUE_CHARS,
    MAX_EXTENSIONS,
    MAX_ID_CHARS,
    MAX_JSON_DEPTH,
    EventTimeWindow,
)
from shared.envelope import (
    CloudEvent,
    EnvelopeError,
    amqp_properties,
    build,
    encode,
    format_time,
    parse,
)

EXAMPLE = {
    "specversion": "1.0",
    "id": "6f1c2a9e-2f5b-4a4e-9b1e-0d7c7c0f6a11",
    "source": "wms/dc-east",
    "type": "inventory.adjusted",
    "time": "2026-11-27T10:15:00.123Z",
    "datacontenttype": "application/json",
    "correlationid": "ORD-5001",
    "data": {"location": "DC-EAST", "sku": "SKU-1001", "qty_delta": -3},
}
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # shortly after the example's event time


def at_now(body: bytes, **kw) -> CloudEvent:
    """`parse` as the consumer calls it, at NOW, so that the test does not age."""
    return parse(body, now=NOW, **kw)


def body_of(**changes) -> bytes:
    return json.dumps({**EXAMPLE, **changes}).encode()


def refusal(body: bytes, **kw) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as e:
        at_now(body, **kw)
    assert e.value.reason
    return e.value


def test_the_contract_example_parses_with_its_extensions_and_system():
    ev = at_now(json.dumps(EXAMPLE).encode())
    assert ev.id == EXAMPLE["id"] and ev.type == "inventory.adjusted"
    assert ev.correlationid == "ORD-5001" and ev.system == "wms"
    assert ev.time == datetime(2026, 11, 27, 10, 15, 0, 123000, tzinfo=UTC)


def test_unknown_extensions_are_kept_not_rejected():
    ev = at_now(body_of(traceparent="00-abc"))
    assert ev.model_extra == {"traceparent": "00-abc"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"\xff\xfe", "malformed"),
        (b"{", "malformed"),
        (b"[1, 2]", "not_cloudevent"),
        (body_of(specversion="0.3"), "not_cloudevent"),
        (json.dumps({k: v for k, v in EXAMPLE.items() if k != "id"}).encode(), "not_cloudevent"),
        (body_of(time="yesterday"), "not_cloudevent"),
    ],
)
def test_bodies_that_are_not_cloudevents_are_refused_with_a_kind(body, kind):
    assert refusal(body).kind == kind


def test_a_naive_time_is_read_as_utc():
    ev = at_now(body_of(time="2026-11-27T10:15:00"))
    assert ev.time.tzinfo is not None and ev.time.utcoffset().total_seconds() == 0


def test_build_round_trips_and_amqp_properties_mirror_the_envelope():
    ev = build(
        "order.created",
        {"order_id": "O-1"},
        source="erp/main",
        correlationid="O-1",
        causationid="c-1",
    )
    back = parse(ev.to_json_bytes())
    assert back == ev
    props = amqp_properties(ev)
    assert props["message_id"] == ev.id and props["type"] == "order.created"
    assert props["correlation_id"] == "O-1" and props["delivery_mode"] == 2
    assert props["timestamp"] == ev.time


def test_time_is_written_in_rfc3339_with_milliseconds_and_z():
    assert (
        format_time(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    )


# -- structure: size, depth, encoding --------------------------------------------------------------


@pytest.mark.parametrize("where", ["data", "top"])
def test_json_nested_ten_thousand_levels_deep_is_refused_as_too_large_not_a_recursion_error(where):
    deep = b"[" * 10_000 + b"]" * 10_000
    body = body_of(data="X").replace(b'"X"', deep) if where == "data" else deep
    error = refusal(body)
    assert error.kind == "too_large" and "nested" in error.reason


def test_json_nested_deeper_than_the_parser_recursion_limit_is_still_an_envelope_error():
    assert refusal(b"[" * 100_000 + b"]" * 100_000).kind == "too_large"
    assert refusal(b'{"a":' * 50_000 + b"1" + b"}" * 50_000).kind == "too_large"
    assert refusal(b"[" * 5_000 + b"}").kind in ("too_large", "malformed")


def test_nesting_up_to_the_limit_is_accepted_and_one_level_more_is_refused():
    def nested(levels: int) -> bytes:
        # the envelope is level 1 and `data` level 2, so `data` holds levels - 2 more arrays
        inner = levels - 2
        return body_of(data="X").replace(b'"X"', b'{"a":' + b"[" * inner + b"]" * inner + b"}")

    assert at_now(nested(MAX_JSON_DEPTH)).data is not None
    assert refusal(nested(MAX_JSON_DEPTH + 1)).kind == "too_large"


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '\\"[{' * 500 + "]}" * 100
    ev = at_now(body_of(data={"note": text, "lines": [[1]] * 100}))
    assert ev.data["note"] == text


def test_a_body_over_the_size_limit_is_refused_before_it_is_read():
    big = body_of(data={"pad": "x" * MAX_BODY_BYTES})
    error = refusal(big)
    assert error.kind == "too_large" and str(MAX_BODY_BYTES) in error.reason


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_not_json(literal):
    body = body_of(data={"qty": "X"}).replace(b'"X"', literal)
    assert refusal(body).kind == "malformed"


def test_an_integer_of_more_than_4300_digits_is_malformed_not_a_value_error():
    body = body_of(data={"qty": "X"}).replace(b'"X"', b"1" * 5000)
    assert refusal(body).kind == "malformed"


def test_a_lone_surrogate_escape_is_malformed_anywhere_in_the_body():
    assert refusal(body_of(data={"sku": "\ud800"})).kind == "malformed"
    assert refusal(body_of(data={"\udfff": 1})).kind == "malformed"
    assert refusal(body_of(id="\udbff")).kind == "malformed"


def test_a_surrogate_pair_escape_is_text_and_is_accepted():
    ev = at_now(body_of(data={"user": "😀 jdoe"}))  # json.dumps writes it as \ud83d\ude00
    assert ev.data["user"] == "😀 jdoe"


def test_a_utf8_byte_order_mark_is_tolerated_and_utf16_is_not_utf8():
    assert at_now(b"\xef\xbb\xbf" + body_of()).id == EXAMPLE["id"]
    assert refusal(json.dumps(EXAMPLE).encode("utf-16")).kind == "malformed"


# -- attributes and extensions -----------------------------------------------------------------


@pytest.mark.parametrize("attr", ["id", "source", "type", "correlationid", "causationid"])
def test_attributes_longer_than_the_id_bound_are_refused(attr):
    assert at_now(body_of(**{attr: "x" * MAX_ID_CHARS}))
    assert refusal(body_of(**{attr: "x" * (MAX_ID_CHARS + 1)})).kind == "not_cloudevent"


@pytest.mark.parametrize("escaped", [True, False])
def test_a_correlationid_that_would_not_fit_an_amqp_short_string_is_refused(escaped):
    euros = "€" * 100  # 100 characters, 300 bytes in UTF-8
    body = json.dumps({**EXAMPLE, "correlationid": euros}, ensure_ascii=escaped).encode()
    error = refusal(body)
    assert error.kind == "not_cloudevent" and "correlationid" in error.reason


def test_more_extensions_than_the_limit_are_refused_as_too_large():
    many = {f"ext{i}": "v" for i in range(MAX_EXTENSIONS + 1)}
    assert at_now(body_of(**dict(list(many.items())[:MAX_EXTENSIONS])))
    assert refusal(body_of(**many)).kind == "too_large"


@pytest.mark.parametrize(
    "value",
    [
        "x" * (MAX_EXTENSION_VALUE_CHARS + 1),
        {"nested": "object"},
        ["a", "list"],
        "1e999",
        2**70,
    ],
    ids=["long", "object", "array", "infinite", "huge-int"],
)
def test_extension_values_must_be_short_scalars(value):
    body = json.dumps({**EXAMPLE, "traceparent": value}).encode()
    body = body.replace(b'"1e999"', b"1e999")  # a JSON number that Python reads as infinity
    error = refusal(body)
    assert error.kind == "not_cloudevent" and "traceparent" in error.reason


def test_scalar_extension_values_are_kept():
    ev = at_now(body_of(sampled=True, priority=3, weight=0.5, nothing=None))
    assert ev.model_extra == {"sampled": True, "priority": 3, "weight": 0.5, "nothing": None}


# -- event time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time",
    [
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_times_at_the_edges_of_the_calendar_are_out_of_range_not_an_overflow(time):
    for window in (EventTimeWindow(), None):
        error = refusal(body_of(time=time), window=window)
        assert error.kind == "out_of_range" and "time" in error.reason


def test_an_event_time_beyond_the_window_ahead_is_out_of_range_with_the_reason():
    ahead = NOW + timedelta(hours=1, seconds=1)
    error = refusal(body_of(time=format_time(ahead)))
    assert error.kind == "out_of_range"
    assert "after now" in error.reason and "ahead is accepted" in error.reason
    assert at_now(body_of(time=format_time(NOW + timedelta(minutes=59)))).time


def test_an_event_time_older_than_the_window_back_is_out_of_range():
    old = NOW - timedelta(days=3651)
    error = refusal(body_of(time=format_time(old)))
    assert error.kind == "out_of_range" and "before now" in error.reason
    assert at_now(body_of(time=format_time(NOW - timedelta(days=3649)))).time


def test_a_count_dated_9999_cannot_reach_a_handler():
    assert refusal(body_of(time="9999-06-01T00:00:00Z")).kind == "out_of_range"


def test_the_window_is_the_callers_choice():
    tight = EventTimeWindow(max_age=timedelta(minutes=5), max_ahead=timedelta(seconds=10))
    assert refusal(body_of(time=format_time(NOW - timedelta(minutes=6))), window=tight)
    assert refusal(body_of(time=format_time(NOW + timedelta(seconds=11))), window=tight)
    assert at_now(body_of(time=format_time(NOW + timedelta(seconds=9))), window=tight)
    far = body_of(time="2999-01-01T00:00:00Z")
    assert at_now(far, window=None).time.year == 2999


def test_build_refuses_times_the_calendar_cannot_hold_in_utc():
    with pytest.raises(ValueError):
        build("x.y", {}, source="a/b", time=datetime(1, 1, 1, 0, 30, tzinfo=UTC) + timedelta(0))
    with pytest.raises(ValueError):
        build("x.y", {}, source="a/b", time=datetime(9999, 12, 31, 23, tzinfo=UTC))


def test_encode_refuses_numbers_that_json_cannot_hold():
    with pytest.raises(ValueError):
        encode({"qty": float("inf")})
    with pytest.raises(ValueError):
        encode({"qty": float("nan")})


# -- any input ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
TIMES = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.sampled_from(["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "now"]),
    st.integers(),
    st.floats(),
)


def _must_parse_or_refuse(body: bytes) -> None:
    try:
        ev = parse(body, now=NOW)
    except EnvelopeError as e:
        assert e.kind in ("malformed", "too_large", "not_cloudevent", "out_of_range")
        return
    assert isinstance(ev, CloudEvent)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_cloudevent_or_an_envelope_error(body):
    _must_parse_or_refuse(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from([*EXAMPLE, "subject", "causationid", "traceparent", "x"]),
        st.one_of(JSON, TIMES),
        max_size=10,
    ),
    st.booleans(),
)
def test_any_json_object_gives_a_cloudevent_or_an_envelope_error(changes, ascii_only):
    body = json.dumps({**EXAMPLE, **changes}, ensure_ascii=ascii_only).encode()
    _must_parse_or_refuse(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0, max_value=400))
def test_a_valid_body_with_bytes_spliced_in_gives_a_cloudevent_or_an_envelope_error(junk, at):
    body = json.dumps(EXAMPLE).encode()
    _must_parse_or_refuse(body[:at] + junk + body[at:])


def _depth(v: object) -> int:
    if isinstance(v, list):
        return 1 + max(map(_depth, v), default=0)
    if isinstance(v, dict):
        return 1 + max(map(_depth, v.values()), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet='[]{}"\\ab\u00e9', max_size=8)
NESTED = st.recursive(
    st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(NESTED, st.integers(min_value=20, max_value=34), st.booleans())
def test_nesting_is_measured_exactly_whatever_the_strings_hold(value, wraps, ascii_only):
    data: object = value
    for i in range(wraps):
        data = [data] if i % 2 else {"k]": data, "[": "}"}
    body = json.dumps({**EXAMPLE, "data": data}, ensure_ascii=ascii_only).encode()
    too_deep = 1 + _depth(data) > MAX_JSON_DEPTH
    try:
        at_now(body)
        assert not too_deep
    except EnvelopeError as e:
        assert (e.kind == "too_large") == too_deep, e.reason


def test_an_envelope_that_is_wrong_besides_its_time_is_not_a_cloudevent():
    body = json.dumps({**EXAMPLE, "time": "9999-12-31T23:00:00-05:00", "id": ""}).encode()
    assert refusal(body).kind == "not_cloudevent"
