"""Batch publishing against the real broker: confirmed, returned (unroutable) and in order."""

from __future__ import annotations

import aio_pika
import pytest

from shared.errors import UnroutableError
from shared.messaging import Outgoing, Publisher, connect

pytestmark = pytest.mark.integration


async def test_a_batch_is_confirmed_in_order_and_an_unroutable_message_is_reported(
    amqp_url: str,
) -> None:
    conn = await connect(amqp_url, "test-publish-many")
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange("pm.test", aio_pika.ExchangeType.TOPIC, auto_delete=True)
        q = await ch.declare_queue("", exclusive=True)
        await q.bind(ex, "bound.#")
        pub = Publisher(conn, "test")
        items = [
            Outgoing("pm.test", "bound.x", str(i).encode(), {"message_id": f"m{i}"})
            for i in range(50)
        ]
        items.insert(10, Outgoing("pm.test", "nobody.listens", b"lost?", {"message_id": "u1"}))
        outcomes = await pub.publish_many(items)
        assert isinstance(outcomes[10], UnroutableError)
        assert [o for i, o in enumerate(outcomes) if i != 10] == [None] * 50
        got = []
        async with q.iterator() as it:
            async for m in it:
                await m.ack()
                got.append(m.body.decode())
                if len(got) == 50:
                    break
        assert got == [str(i) for i in range(50)]
        # the same message id twice in one batch: both confirmed (the second waits its turn)
        again = [Outgoing("pm.test", "bound.y", b"a", {"message_id": "same"})] * 2
        assert await pub.publish_many(again) == [None, None]
        await pub.close()
    finally:
        await conn.close()
