"""Carrier milestones of `shipment.tracking_updated` (contract section 4) -> enterprise status.

Applied per shipment: `shipped`/`packed` describe that shipment only; the order becomes
`delivered` when it is fully shipped and every shipment is delivered.
"""

TABLE: dict[str, str] = {
    "label_created": "packed",
    "picked_up": "shipped",
    "in_transit": "shipped",
    "out_for_delivery": "shipped",
    "delivery_attempted": "shipped",
    "available_for_pickup": "shipped",
    "delivered": "delivered",
    "exception": "exception",
    "returned_to_sender": "exception",
}
