"""What the dlq tools read from the environment, on top of the services' own settings."""

from __future__ import annotations

from shared.settings import ServiceSettings


class DlqSettings(ServiceSettings):
    """Settings of the dlq tools: the services' AMQP_URL/MONGODB_URL plus `DISTSYNC_DLQ_*`."""

    admin_db: str = "distsync_admin"
    dlq_flag_replays: int = 3  # replayed this often: flagged, and replay needs --force
    dlq_window: int = 60_000  # messages one scan may hold unacknowledged (prefetch, <= 65535)
    dlq_inflight: int = 500  # unconfirmed publishes in flight during replay/restore
    dlq_renew_at: int = 10  # returned this often: re-published fresh (see `Scan.keep`)
    dlq_idle_s: float = 3.0  # a scan ends when the queue delivers nothing for this long
    dlq_lock_wait_s: float = 15.0  # wait this long for another dlq command on the same queue
    dlq_api_token: str | None = None  # `distsync dlq serve` requires it as a bearer token
