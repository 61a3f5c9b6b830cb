"""What the dlq tools read from the environment, on top of the services' own settings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import field_validator
from pydantic_settings import NoDecode

from shared.settings import ServiceSettings

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]


class DlqSettings(ServiceSettings):
    """Settings of the dlq tools: the services' AMQP_URL/MONGODB_URL plus `DISTSYNC_DLQ_*`."""

    admin_db: str = "distsync_admin"
    dlq_flag_replays: int = 3  # replayed this often: flagged, and replay needs --force
    dlq_window: int = 60_000  # messages one scan may hold unacknowledged (prefetch, <= 65535)
    dlq_inflight: int = 500  # unconfirmed publishes in flight during replay/restore
    dlq_idle_s: float = 3.0  # a scan ends when the queue delivers nothing for this long
    dlq_lock_wait_s: float = 15.0  # wait this long for another dlq command on the same queue
    # `distsync dlq serve` (distsync_ops.dlq_api): every request needs `Authorization: Bearer
    # <token>`; without a token it refuses to start unless told it is a local run (loopback only)
    dlq_api_token: str | None = None
    dlq_api_insecure_local: bool = False
    # `Host` names the API answers to (a DNS-rebinding page names its own); comma-separated
    dlq_api_allowed_hosts: Annotated[list[str], NoDecode] = LOOPBACK_HOSTS

    @field_validator("dlq_api_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [h.strip() for h in v.split(",") if h.strip()]
        return v
