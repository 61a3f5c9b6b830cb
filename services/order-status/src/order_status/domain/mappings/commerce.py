"""Commerce channels (eCommerce, EDI gateway, customer portal) order statuses -> enterprise."""

TABLE: dict[str, str] = {
    "placed": "received",
    "submitted": "received",
    "new": "received",
    "pending": "received",
    "confirmed": "received",
    "accepted": "received",
    "payment_authorized": "credit_approved",
    "payment_approved": "credit_approved",
    "paid": "credit_approved",
    "payment_failed": "exception",
    "on_hold": "exception",
    "partially_shipped": "partially_shipped",
    "shipped": "shipped",
    "fulfilled": "shipped",
    "completed": "delivered",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
