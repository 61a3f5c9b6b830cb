"""TMS native load and order statuses -> enterprise status."""

TABLE: dict[str, str] = {
    "loaded": "packed",
    "manifested": "packed",
    "tendered": "packed",
    "dispatched": "shipped",
    "departed": "shipped",
    "picked_up": "shipped",
    "in_transit": "shipped",
    "shipped": "shipped",
    "out_for_delivery": "shipped",
    "delivered": "delivered",
    "pod": "delivered",
    "proof_of_delivery": "delivered",
    "exception": "exception",
    "delayed": "exception",
    "damaged": "exception",
    "lost": "exception",
    "refused": "exception",
}
