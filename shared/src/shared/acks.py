"""Acking a consumer's deliveries in as few frames as possible, never past one still in hand,
and knowing when none is left in hand (a stopping consumer waits for that)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aio_pika.abc import AbstractIncomingMessage


class Settler:
    """Settles deliveries with as few frames as possible, never acking one still in hand.

    Batches in flight commit out of delivery order, so a batch's highest tag cannot simply be
    acked with `multiple`: that would settle another batch's messages before their commit.
    Per channel, this tracks the highest tag below which every delivery is settled, and acks up
    to it. Messages acked or nacked one by one count as settled too (a `multiple` ack skips
    them). `idle` is set whenever no delivery is left unsettled."""

    def __init__(self) -> None:
        self._chan: dict[int, _ChannelAcks] = {}
        self.idle = asyncio.Event()
        self.idle.set()

    def _state(self, m: AbstractIncomingMessage) -> _ChannelAcks | None:
        try:
            ch = m.channel
        except Exception:  # the channel closed: the broker redelivers, the inbox absorbs it
            return None
        st = self._chan.get(id(ch))
        if st is None or st.channel is not ch:
            self._chan = {k: v for k, v in self._chan.items() if not v.channel.is_closed}
            st = self._chan[id(ch)] = _ChannelAcks(ch)
        return st

    def received(self, m: AbstractIncomingMessage) -> None:
        self.idle.clear()
        st = self._state(m)
        if st is not None:
            tag = m.delivery_tag or 0
            st.outstanding.add(tag)
            st.highest = max(st.highest, tag)

    def outstanding(self, channel: Any) -> set[int]:
        """The tags delivered on `channel` (an aiormq channel) and not yet settled."""
        st = self._chan.get(id(channel))
        if st is None or st.channel is not channel or channel.is_closed:
            return set()
        return set(st.outstanding)

    def sending(self, channel: Any) -> bool:
        """An ack frame for `channel` is being written: closing the channel now would let it
        reach the broker after the close, on a channel number the broker no longer knows,
        and the broker closes the whole connection for that (504 CHANNEL_ERROR)."""
        st = self._chan.get(id(channel))
        return st is not None and st.channel is channel and st.sending > 0

    def all_settled(self) -> bool:
        return all(not st.outstanding or st.channel.is_closed for st in self._chan.values())

    async def wait_settled(self) -> None:
        """Return once every delivery is settled or its channel is gone."""
        while not self.all_settled():
            self.idle.clear()
            await self.idle.wait()

    def _note_settled(self) -> None:
        if self.all_settled():
            self.idle.set()

    def is_settled(self, m: AbstractIncomingMessage) -> bool:
        st = self._state(m)
        return st is None or (m.delivery_tag or 0) not in st.outstanding

    async def ack(self, messages: list[AbstractIncomingMessage]) -> None:
        touched: dict[int, _ChannelAcks] = {}
        for m in messages:
            st = self._state(m)
            if st is not None:
                st.outstanding.discard(m.delivery_tag or 0)
                touched[id(st.channel)] = st
        # counted as sending from the moment their tags leave `outstanding`: the flushes run
        # one after another, and a channel whose turn has not come yet must not look settled
        waiting = list(touched.values())
        for st in waiting:
            st.sending += 1
        try:
            while waiting:
                st = waiting.pop(0)
                try:
                    await st.flush()
                finally:
                    st.sending -= 1
        finally:
            for st in waiting:  # a flush was cancelled: the others will not be written
                st.sending -= 1
        self._note_settled()

    async def ack_one(self, m: AbstractIncomingMessage) -> None:
        """Ack one message now (its fate is decided: retried or dead-lettered elsewhere)."""
        with contextlib.suppress(Exception):
            await m.ack()
        self._settled_alone(m)

    async def nack_one(self, m: AbstractIncomingMessage) -> None:
        """Give one message back to the broker for redelivery."""
        with contextlib.suppress(Exception):
            await m.nack(requeue=True)
        self._settled_alone(m)

    def _settled_alone(self, m: AbstractIncomingMessage) -> None:
        """`m` went out in a frame of its own: a later `multiple` ack passes over it."""
        st = self._state(m)
        if st is not None:
            tag = m.delivery_tag or 0
            st.outstanding.discard(tag)
            if tag > st.acked_to:
                st.alone.add(tag)
        self._note_settled()


class _ChannelAcks:
    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.outstanding: set[int] = set()  # delivered to us, not yet settled
        self.highest = 0  # highest tag delivered to us
        self.acked_to = 0  # a `multiple` ack went out up to here
        self.sending = 0  # acks settled in `outstanding` whose frame is not written yet
        self.alone: set[int] = set()  # above `acked_to`, acked or nacked in a frame of their own

    async def flush(self) -> None:
        """Ack (multiple) up to just below the lowest unsettled tag, if that moved.

        The frame names the highest tag in that range not settled alone: the broker answers a
        `multiple` ack whose own tag it no longer holds with PRECONDITION_FAILED (unknown
        delivery tag) and closes the channel, when nothing above that tag is unacked."""
        floor = min(self.outstanding) - 1 if self.outstanding else self.highest
        if floor <= self.acked_to:
            return
        tag, below = floor, self.acked_to
        while tag > below and tag in self.alone:
            tag -= 1
        self.acked_to = floor
        self.alone = {t for t in self.alone if t > floor}
        if tag > below:
            with contextlib.suppress(Exception):  # channel gone: redelivered, inbox absorbs it
                await self.channel.basic_ack(delivery_tag=tag, multiple=True)
