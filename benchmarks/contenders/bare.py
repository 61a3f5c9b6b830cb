"""The bare pipeline: hand-written consume, one transaction per batch of up to 100 messages,
acknowledged (`multiple`) after the commit.

    python -m benchmarks.contenders.bare AMQP_URL MONGODB_URL DB QUEUE
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pymongo import AsyncMongoClient, UpdateOne

BATCH = 100
WAIT_S = 0.005


async def main(amqp: str, mongo: str, db_name: str, queue: str) -> None:
    client: AsyncMongoClient = AsyncMongoClient(mongo)
    db = client[db_name]
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel()
    await ch.set_qos(prefetch_count=4 * BATCH)
    q = await ch.get_queue(queue, ensure=False)
    inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    await q.consume(inbox.put, no_ack=False)
    while True:
        batch = [await inbox.get()]
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while len(batch) < BATCH:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(inbox.get(), timeout))
            except TimeoutError:
                break
        await apply(client, db, batch)
        await batch[-1].ack(multiple=True)


async def apply(client: AsyncMongoClient, db, batch: list[AbstractIncomingMessage]) -> None:  # type: ignore[no-untyped-def]
    events = [json.loads(m.body) for m in batch]
    ids = [e["id"] for e in events]
    async with client.start_session() as s:
        async with await s.start_transaction():
            seen = {d["_id"] async for d in db.inbox.find({"_id": {"$in": ids}}, session=s)}
            deltas: dict[str, float] = defaultdict(float)
            fresh = []
            for e in events:
                if e["id"] in seen:
                    continue
                seen.add(e["id"])
                fresh.append({"_id": e["id"]})
                d = e["data"]
                deltas[f"{d['sku']}|{d['location']}"] += d["qty_delta"]
            if fresh:
                await db.inbox.insert_many(fresh, session=s)
                await db.positions.bulk_write(
                    [
                        UpdateOne({"_id": k}, {"$inc": {"on_hand": v}}, upsert=True)
                        for k, v in deltas.items()
                    ],
                    session=s,
                )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
