"""ingress settings: the shared runtime's, plus where callers follow an order and files arrive."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, settings_as


class IngressSettings(ServiceSettings):
    """Env `DISTSYNC_INGRESS_*`."""

    # the base URL a caller follows an order's status at (order-status's GET /v1/orders/{id})
    ingress_order_status_url: str = "http://127.0.0.1:8002"
    # availability's read API, for the 846 inventory advice
    ingress_availability_url: str = "http://127.0.0.1:8001"
    # a watched folder: files dropped in <dir>/<kind>/ are read, then moved to done/ or failed/
    ingress_drop_dir: str | None = None
    # how long an accepted id is remembered (a repeat within it is accepted once)
    ingress_idempotency_ttl_s: float = Field(default=7 * 86400.0, gt=0)
    # a claim left pending this long (its publisher died) may be taken over by a retry
    ingress_claim_lease_s: float = Field(default=30.0, gt=0)
    # how the ingress names itself in the X12 it writes (ISA05/ISA06, GS02)
    ingress_edi_sender_qualifier: str = "ZZ"
    ingress_edi_sender_id: str = "DISTSYNC"
    # X12 units of measure that are base units: quantities in them are sent without `uom`
    ingress_edi_base_uoms: list[str] = ["EA"]
    # sent as X-API-Key to availability's read API when set (authentication on)
    ingress_availability_api_key: str | None = None
    ingress_max_batch: int = Field(default=1000, ge=1, le=10_000)
    ingress_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)


def settings_of(settings: object) -> IngressSettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, IngressSettings)
