"""The consumer's ack bookkeeping: lanes commit out of delivery order, and a `multiple` ack
must never settle a delivery another lane still holds."""

from __future__ import annotations

from typing import Any

from shared.acks import Settler


class FakeChannel:
    def __init__(self) -> None:
        self.is_closed = False
        self.frames: list[tuple[str, int, bool]] = []

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.frames.append(("ack", delivery_tag, multiple))


class FakeMessage:
    def __init__(self, channel: FakeChannel, tag: int) -> None:
        self.channel = channel
        self.delivery_tag = tag

    async def ack(self) -> None:
        self.channel.frames.append(("ack", self.delivery_tag, False))

    async def nack(self, requeue: bool = True) -> None:
        self.channel.frames.append(("nack", self.delivery_tag, requeue))


def deliver(s: Settler, ch: FakeChannel, tags: range) -> dict[int, Any]:
    msgs = {t: FakeMessage(ch, t) for t in tags}
    for m in msgs.values():
        s.received(m)  # type: ignore[arg-type]
    return msgs


async def test_a_later_lane_committing_first_acks_nothing_below_the_other_lanes_messages() -> None:
    s, ch = Settler(), FakeChannel()
    m = deliver(s, ch, range(1, 7))
    await s.ack([m[2], m[4], m[6]])  # lane B commits first
    assert ch.frames == []  # tag 1 is still in lane A: nothing can be acked yet
    await s.ack([m[1], m[3], m[5]])  # lane A commits
    assert ch.frames == [("ack", 6, True)]
    assert s.all_settled()


async def test_the_multiple_ack_stops_just_below_the_lowest_message_still_in_hand() -> None:
    s, ch = Settler(), FakeChannel()
    m = deliver(s, ch, range(1, 6))
    await s.ack([m[1], m[2], m[4]])
    assert ch.frames == [("ack", 2, True)]
    assert not s.all_settled()
    assert not s.is_settled(m[3])  # type: ignore[arg-type]
    await s.ack([m[3], m[5]])
    assert ch.frames[-1] == ("ack", 5, True)


async def test_messages_settled_one_by_one_let_the_watermark_pass_without_a_second_ack() -> None:
    s, ch = Settler(), FakeChannel()
    m = deliver(s, ch, range(1, 5))
    await s.ack_one(m[2])  # dead-lettered: acked alone
    await s.nack_one(m[3])  # a crashed batch: given back
    await s.ack([m[1], m[4]])
    assert ch.frames == [("ack", 2, False), ("nack", 3, True), ("ack", 4, True)]
    assert s.all_settled()


async def test_each_channel_keeps_its_own_tags() -> None:
    s, a, b = Settler(), FakeChannel(), FakeChannel()
    ma, mb = deliver(s, a, range(1, 3)), deliver(s, b, range(1, 3))
    await s.ack([ma[1], ma[2], mb[1]])
    assert a.frames == [("ack", 2, True)]
    assert b.frames == [("ack", 1, True)]


class SlowChannel(FakeChannel):
    """A channel whose ack frame waits until `written` is set (a busy connection)."""

    def __init__(self) -> None:
        super().__init__()
        import asyncio

        self.written = asyncio.Event()

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        await self.written.wait()
        await super().basic_ack(delivery_tag, multiple)


async def test_a_channel_whose_ack_frame_is_not_written_yet_is_not_ready_to_close() -> None:
    """A batch spans partitions: its acks go out channel by channel. A partition being handed
    over must not close its channel while its ack waits for another channel's turn, or the
    frame reaches the broker after the close (504 CHANNEL_ERROR closes the whole connection)."""
    import asyncio

    s, a, b = Settler(), SlowChannel(), FakeChannel()
    ma, mb = deliver(s, a, range(1, 3)), deliver(s, b, range(1, 3))
    acking = asyncio.create_task(s.ack([ma[1], mb[1], ma[2], mb[2]]))
    await asyncio.sleep(0)
    assert s.outstanding(b) == set()  # b's tags are settled in the books...
    assert s.sending(b)  # ...but its frame waits behind a's
    assert s.sending(a)
    a.written.set()
    await acking
    assert not s.sending(a) and not s.sending(b)
    assert b.frames == [("ack", 2, True)]


async def test_the_multiple_ack_never_names_a_tag_already_settled_alone() -> None:
    """The broker closes the channel (PRECONDITION_FAILED, unknown delivery tag) for a
    `multiple` ack whose own tag was acked before, when no unacked delivery lies above it."""
    s, ch = Settler(), FakeChannel()
    m = deliver(s, ch, range(1, 6))
    await s.ack_one(m[5])  # a duplicate in the batch, acked on its own
    await s.ack([m[1], m[2], m[3], m[4]])
    assert ch.frames == [("ack", 5, False), ("ack", 4, True)]
    # two settled alone at the top: the multiple ack stops below both
    m = deliver(s, ch, range(6, 10))
    await s.nack_one(m[9])
    await s.nack_one(m[8])
    await s.ack([m[6], m[7]])
    assert ch.frames[2:] == [("nack", 9, True), ("nack", 8, True), ("ack", 7, True)]
    assert s.all_settled()
