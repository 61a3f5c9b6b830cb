"""A typical FastStream subscriber: a pydantic model for the event, one MongoDB transaction per
message (inbox check, inbox insert, position update) run by pymongo's `with_transaction`, which
retries write conflicts; FastStream's default acknowledgement (after the handler returns).

    python -m benchmarks.contenders.faststream_peer AMQP_URL MONGODB_URL DB QUEUE
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from faststream import FastStream
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from pydantic import BaseModel
from pymongo import AsyncMongoClient


class Adjusted(BaseModel):
    location: str
    sku: str
    qty_delta: float
    reason_code: str | None = None


class Event(BaseModel):
    id: str
    type: str
    source: str
    data: Adjusted


def build(amqp: str, mongo: str, db_name: str, queue: str) -> FastStream:
    broker = RabbitBroker(amqp, logger=None)
    client: AsyncMongoClient = AsyncMongoClient(mongo)
    db = client[db_name]
    wms = RabbitExchange("wms.events", type=ExchangeType.TOPIC, declare=False)

    @broker.subscriber(RabbitQueue(queue, declare=False, routing_key="inventory.adjusted"), wms)
    async def on_adjusted(event: Event) -> None:
        async def apply(s: Any) -> None:
            if await db.inbox.find_one({"_id": event.id}, session=s):
                return
            await db.inbox.insert_one({"_id": event.id}, session=s)
            await db.positions.update_one(
                {"_id": f"{event.data.sku}|{event.data.location}"},
                {"$inc": {"on_hand": event.data.qty_delta}},
                upsert=True,
                session=s,
            )

        async with client.start_session() as s:
            await s.with_transaction(apply)  # retried on write conflicts, as pymongo advises

    return FastStream(broker, logger=None)


if __name__ == "__main__":
    asyncio.run(build(*sys.argv[1:5]).run())
