"""order-status settings: the shared runtime's, plus where the status mapping overrides live."""

from __future__ import annotations

from shared.settings import ServiceSettings


class OrderStatusSettings(ServiceSettings):
    """Env `DISTSYNC_ORDER_STATUS_MAPPING_FILE`: a JSON file merged over the default tables."""

    order_status_mapping_file: str | None = None
