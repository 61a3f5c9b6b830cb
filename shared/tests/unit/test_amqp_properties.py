"""AMQP properties mirror the envelope where AMQP can hold the value and leave it out where it
cannot; a message AMQP cannot encode fails alone, before it takes a delivery tag."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pamqp import commands as spec
from pamqp import frame as amqp_frame
from pamqp.body import ContentBody

from shared.amqp_batch import (
    encode_head,
    publish_batch,
    representable,
    shortstr_fits,
    timestamp_fits,
)
from shared.errors import Unpublishable


def test_a_time_before_1970_is_left_out_and_the_epoch_itself_is_kept() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert "timestamp" not in representable({"timestamp": datetime(1960, 5, 1, tzinfo=UTC)})
    assert "timestamp" not in representable({"timestamp": epoch - timedelta(seconds=1)})
    assert representable({"timestamp": epoch}) == {"timestamp": epoch}
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert representable({"timestamp": far}) == {"timestamp": far}


def test_a_time_without_offset_is_read_as_utc_like_the_encoder_does() -> None:
    assert not timestamp_fits(datetime(1969, 12, 31, 23, 0))
    assert timestamp_fits(datetime(1970, 1, 1, 0, 0))


def test_seconds_outside_an_unsigned_64_bit_count_are_left_out() -> None:
    assert not timestamp_fits(-1)
    assert not timestamp_fits(2**64)
    assert timestamp_fits(2**64 - 1)
    assert timestamp_fits(0)
    assert timestamp_fits(None)


def test_a_correlation_id_or_type_over_255_utf8_bytes_is_left_out() -> None:
    ok = "x" * 255
    assert representable({"correlation_id": ok, "type": ok}) == {"correlation_id": ok, "type": ok}
    assert representable({"correlation_id": "x" * 256, "type": "t" * 300}) == {}
    # 128 two-byte characters are 256 bytes: too long although only 128 characters
    assert representable({"correlation_id": "é" * 128}) == {}
    assert representable({"correlation_id": "é" * 127}) == {"correlation_id": "é" * 127}
    assert representable({"message_type": "é" * 200}) == {}


def test_a_lone_surrogate_is_not_text_amqp_can_carry() -> None:
    assert not shortstr_fits("order-\ud800")
    assert representable({"correlation_id": "order-\ud800"}) == {}


def test_message_id_is_never_left_out() -> None:
    long_id = "é" * 200
    assert representable({"message_id": long_id}) == {"message_id": long_id}
    with pytest.raises(Unpublishable, match="255 bytes"):
        encode_head(1, "svc.events", "t", 3, spec.Basic.Properties(message_id=long_id))


def test_properties_amqp_can_hold_pass_through_unchanged() -> None:
    props = {
        "message_id": "6f1c",
        "type": "order.status_changed",
        "correlation_id": "ORD-1",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "content_type": "application/cloudevents+json",
        "delivery_mode": 2,
    }
    assert representable(props) == props


def test_a_routing_key_or_header_amqp_cannot_encode_is_unpublishable() -> None:
    props = spec.Basic.Properties(message_id="m")
    with pytest.raises(Unpublishable):
        encode_head(1, "svc.events", "k" * 256, 3, props)
    with pytest.raises(Unpublishable):
        encode_head(1, "svc.events", "k", 3, spec.Basic.Properties(headers={"h": object()}))
    assert encode_head(1, "svc.events", "k", 3, props)


class FakeChannel:
    """The parts of an aiormq channel `publish_batch` uses, with the broker left out."""

    def __init__(self, fail_write: bool = False) -> None:
        self.lock = asyncio.Lock()
        self.confirmations: dict[int, asyncio.Future[Any]] = {}
        self.message_id_delivery_tag: dict[str, int] = {}
        self.delivery_tag = 0
        self.number = 1
        self.max_content_size = 131072
        self.write_queue: asyncio.Queue[Any] = asyncio.Queue()
        self.fail_write = fail_write

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _split_body(self, body: bytes) -> list[ContentBody]:
        return [ContentBody(body)] if body else []

    def published(self) -> list[str]:
        """The message ids of the Basic.Publish frames written, in order."""
        data = b"".join(f.payload for f in self.write_queue._queue)  # type: ignore[attr-defined]
        ids = []
        while data:
            used, _, frame = amqp_frame.unmarshal(data)
            data = data[used:]
            if hasattr(frame, "properties"):
                ids.append(frame.properties.message_id)
        return ids


def pending(mid: str, **props: Any) -> tuple[str, str, bytes, Any, asyncio.Future[Any]]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    return ("svc.events", "t", b"{}", spec.Basic.Properties(message_id=mid, **props), fut)


async def test_a_message_that_cannot_be_encoded_fails_alone_and_takes_no_delivery_tag() -> None:
    ch = FakeChannel()
    bad = pending("é" * 200)
    batch = [pending("a"), bad, pending("b", correlation_id="ORD-1")]
    assert await publish_batch(ch, batch) == []
    assert ch.delivery_tag == 2  # the broker numbers the two it receives 1 and 2
    assert sorted(ch.confirmations) == [1, 2]
    assert ch.message_id_delivery_tag == {"a": 1, "b": 2}
    assert ch.published() == ["a", "b"]
    with pytest.raises(Unpublishable, match="255 bytes"):
        await bad[4]
    ch.confirmations[2].set_result(spec.Basic.Ack(delivery_tag=2))
    assert isinstance(await batch[2][4], spec.Basic.Ack)
    assert not batch[0][4].done()


async def test_a_write_that_never_happens_gives_the_delivery_tags_back() -> None:
    ch = FakeChannel()

    async def refuse(_: Any) -> None:
        raise asyncio.CancelledError

    ch.write_queue.put = refuse  # type: ignore[method-assign]
    batch = [pending("a"), pending("b")]
    with pytest.raises(asyncio.CancelledError):
        await publish_batch(ch, batch)
    assert ch.delivery_tag == 0
    assert ch.confirmations == {} and ch.message_id_delivery_tag == {}
    await asyncio.sleep(0)  # the cancelled confirmations settle the callers' futures
    assert all(isinstance(p[4].exception(), Exception) for p in batch)
