"""Small business flows the contract tests drive through running services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.harness import Cluster


def ids(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def receipt_flow(cluster: Cluster, correlationid: str) -> dict[str, Any]:
    """A PO released by the ERP and received in full by the WMS (receipt -> availability)."""
    po, sku, receipt = ids("PO"), ids("SKU"), ids("RCV")
    now = datetime.now(UTC)
    released = await cluster.publish(
        "erp.events",
        "purchase_order.released",
        {
            "po_id": po,
            "supplier_id": "SUP-1",
            "location": "DC-EAST",
            "expected_date": (now + timedelta(days=2)).isoformat(),
            "lines": [{"line_id": "1", "sku": sku, "qty": 10}],
        },
        source="erp/sap-prod",
        correlationid=correlationid,
    )
    recorded = await cluster.publish(
        "wms.events",
        "receipt.recorded",
        {
            "receipt_id": receipt,
            "location": "DC-EAST",
            "po_id": po,
            "lines": [{"po_line_id": "1", "sku": sku, "qty_received": 10}],
        },
        source="wms/dc-east",
        time=now + timedelta(seconds=1),
        correlationid=correlationid,
    )
    return {"po": po, "sku": sku, "released": released, "recorded": recorded}


async def order_flow(cluster: Cluster, correlationid: str) -> dict[str, Any]:
    """An order created and allocated by the ERP (order-status and availability)."""
    order, sku = correlationid, ids("SKU")
    created = await cluster.publish(
        "erp.events",
        "order.created",
        {
            "order_id": order,
            "channel": "web",
            "customer_id": "C-1",
            "lines": [{"line_id": "1", "sku": sku, "qty": 2}],
        },
        source="erp/sap-prod",
        correlationid=correlationid,
    )
    allocated = await cluster.publish(
        "erp.events",
        "order.allocated",
        {
            "order_id": order,
            "lines": [{"line_id": "1", "sku": sku, "location": "DC-EAST", "qty": 2}],
        },
        source="erp/sap-prod",
        time=datetime.now(UTC) + timedelta(seconds=1),
        correlationid=correlationid,
    )
    return {"order": order, "sku": sku, "created": created, "allocated": allocated}
