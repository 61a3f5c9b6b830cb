"""The service the runtime benchmark drives: a trivial domain change through the full runtime.

Run by benchmarks.runtime_bench as its own process (so its RSS can be measured).
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from shared.runtime import serve_forever
from shared.service import Incoming, Publication, Route, ServiceDefinition
from shared.uow import UnitOfWork


class StockMoved(BaseModel):
    sku: str
    qty: float


class StockCounted(BaseModel):
    sku: str
    total: float


async def handle_moved(msg: Incoming[StockMoved], uow: UnitOfWork) -> None:
    doc = await uow.get("totals", msg.data.sku) or {"total": 0.0}
    doc["total"] += msg.data.qty
    uow.put("totals", msg.data.sku, doc)
    uow.emit("bench.counted", StockCounted(sku=msg.data.sku, total=doc["total"]), key=msg.data.sku)


SERVICE = ServiceDefinition(
    name="bench",
    routes=(
        Route(
            "bench.moved",
            StockMoved,
            handle_moved,
            ("wms.events",),
            preload=lambda d: [("totals", d.sku)],
        ),
    ),
    publishes=(Publication("bench.counted", StockCounted),),
)

if __name__ == "__main__":
    asyncio.run(serve_forever(SERVICE))
