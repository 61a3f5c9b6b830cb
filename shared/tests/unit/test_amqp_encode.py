"""The fast content-header encoder writes exactly pamqp's bytes, and fails where pamqp fails."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pamqp import commands as spec
from pamqp import frame as amqp_frame
from pamqp.header import ContentHeader

from shared.amqp_batch import PropertiesWithoutId
from shared.amqp_encode import content_header_frame
from shared.amqp_wire import RawProperties


def pamqp_bytes(props: Any, size: int = 7, channel: int = 3) -> bytes:
    return amqp_frame.marshal(ContentHeader(properties=props, body_size=size), channel)


def ours(props: Any, size: int = 7, channel: int = 3) -> bytes:
    return content_header_frame(channel, size, props)


text = st.text(max_size=40)
leaves = st.one_of(
    text,
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-70000, max_value=70000),
    st.floats(allow_nan=False, width=32),
    st.decimals(places=2, min_value=-1000, max_value=1000),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    st.binary(max_size=8).map(bytearray),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
shortstr = st.one_of(st.none(), st.just(""), st.text(max_size=60))


@settings(max_examples=400, deadline=None)
@given(
    headers=st.one_of(st.none(), st.dictionaries(st.text(max_size=20), values, max_size=12)),
    message_id=shortstr,
    type_=shortstr,
    correlation_id=shortstr,
    delivery_mode=st.one_of(st.none(), st.sampled_from([1, 2])),
    priority=st.one_of(st.none(), st.integers(0, 9)),
    timestamp=st.one_of(st.none(), st.datetimes(min_value=datetime(1971, 1, 1))),
    size=st.integers(0, 2**40),
)
def test_the_same_bytes_as_pamqp(**kw: Any) -> None:
    size = kw.pop("size")
    kw["message_type"] = kw.pop("type_")
    props = spec.Basic.Properties(content_type="application/json", app_id="distsync", **kw)
    assert ours(props, size) == pamqp_bytes(props, size)


def test_a_failure_record_as_the_runtime_writes_it() -> None:
    headers = {
        "x-distsync-error": "no conversion for unit CS",
        "x-distsync-attempts": 5,
        "x-distsync-failed-at": "2026-12-04T10:00:00Z",
        "x-death": [{"count": 1, "queue": "a.main", "time": datetime(2026, 1, 1, tzinfo=UTC)}],
        "nested": {"deep": {"deeper": [1, -1, 300, -40000, 70000, 2**40, True, None]}},
        "amount": decimal.Decimal("1.25"),
        "bytes": bytearray(b"\x00\xff"),
        "ratio": 0.5,
        "bounds": [b + d for b in (128, 32768, 65536, 2**31, 2**32) for d in (-1, 0)]
        + [-b + d for b in (128, 32768, 2**31) for d in (-1, 0)]
        + [2**63 - 1, -(2**63)],
        "\u00e9t\u00e9": "caf\u00e9",
    }
    props = spec.Basic.Properties(message_id="e-1", delivery_mode=2, headers=headers)
    assert ours(props) == pamqp_bytes(props)


@pytest.mark.parametrize(
    "props",
    [
        spec.Basic.Properties(),
        spec.Basic.Properties(headers={}),
        PropertiesWithoutId(headers={"a": "b"}),
        spec.Basic.Properties(headers={"k" * 200: "long key: pamqp truncates it"}),
        spec.Basic.Properties(headers={"s": type("Sub", (str,), {})("subclass")}),
    ],
)
def test_edge_cases_match(props: Any) -> None:
    assert ours(props) == pamqp_bytes(props)


@pytest.mark.parametrize(
    "props",
    [
        spec.Basic.Properties(message_id="x" * 256),
        spec.Basic.Properties(headers={"h": object()}),
        spec.Basic.Properties(headers={"h": 2**64}),
        spec.Basic.Properties(headers={"h": "\ud800"}),
    ],
)
def test_what_pamqp_refuses_is_refused_the_same_way(props: Any) -> None:
    with pytest.raises(Exception) as theirs:
        pamqp_bytes(props)
    with pytest.raises(type(theirs.value)) as mine:
        ours(props)
    assert str(mine.value) == str(theirs.value)


def test_raw_properties_are_sent_as_received() -> None:
    raw = spec.Basic.Properties(message_id="m", headers={"a": 1}).marshal()
    props = RawProperties(raw, "test")
    assert ours(props) == pamqp_bytes(props)
