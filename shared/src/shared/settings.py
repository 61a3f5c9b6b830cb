"""Settings from the environment; one instance per process, passed down explicitly."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TypeVar

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.bounds import DEFAULT_MAX_AGE, DEFAULT_MAX_AHEAD, EventTimeWindow
from shared.service import SERVICE_TABLE


class ServiceSettings(BaseSettings):
    """Runtime settings every service shares. Env: `DISTSYNC_<FIELD>`; URLs also bare."""

    model_config = SettingsConfigDict(env_prefix="DISTSYNC_", extra="ignore")

    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("AMQP_URL", "DISTSYNC_AMQP_URL"),
    )
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27017/?directConnection=true",
        validation_alias=AliasChoices("MONGODB_URL", "DISTSYNC_MONGODB_URL"),
    )
    mongodb_db: str | None = None  # default: distsync_<service>
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: the service's default port
    log_level: str = "INFO"
    log_json: bool = True
    prefetch: int = 800  # enough for `lanes` full batches, and the next ones waiting
    batch_size: int = 100
    batch_wait_ms: float = 5.0
    # batches in flight at most; a second one starts only when a full batch waits (a backlog),
    # and no two in flight share a document that Route.preload names (shared.consume.scheduling)
    lanes: int = 2
    # partitions of the service's queue (shared.consume.partitions): 1 keeps the single
    # competing-consumers queue; more routes each aggregate's messages to one partition, which
    # one replica at a time consumes (a deployment setting: docs/deploy.md, "Partitions")
    partitions: int = Field(default=1, ge=1, le=1024)
    # how often a replica compares the partitions it consumes with its fair share
    partition_balance_s: float = Field(default=2.0, gt=0)
    router_batch: int = Field(default=500, ge=1, le=5000)  # messages the router moves at once
    retry_delays_s: list[int] = [1, 10, 60]
    max_attempts: int = 5  # deliveries before a repeatedly failing message is dead-lettered
    delivery_limit: int = 20  # broker-side x-delivery-limit (crash loops)
    inproc_retries: int = 4
    outbox_poll_s: float = 0.25
    outbox_batch: int = 500
    outbox_lease_s: float = 10.0
    # /readyz reports the outbox not ok once events have waited this long with none published
    outbox_stall_s: float = Field(default=60.0, gt=0)
    # request bodies larger than this are refused with 413 as they stream in (shared.http)
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    shutdown_grace_s: float = 25.0
    declare_topology: bool = True  # declare this service's topology at start
    inbox_correlation_index: bool = False  # index inbox.correlationid (faster trace, slower writes)
    # retention (shared.retention): an applied id is purged once its event time is older than
    # inbox_retention_s, and a delivery older than that minus dedup_horizon_margin_s (clock
    # skew, time in flight) is dead-lettered as beyond_dedup_horizon, so a forgotten id is never
    # applied twice; inbox_ttl=false keeps every id and admits any time inside the window
    inbox_ttl: bool = True
    inbox_retention_s: float = Field(default=14 * 86400, gt=0)
    dedup_horizon_margin_s: float = Field(default=86400, ge=0)
    # the width of one inbox bucket (shared.inbox); unset: a quarter of inbox_retention_s
    inbox_bucket_s: float | None = Field(default=None, ge=1)
    # sent outbox documents are purged this long after they were sent (unsent ones never)
    outbox_retention_s: float = Field(default=7 * 86400, gt=0)
    retention_purge_interval_s: float = Field(default=60.0, gt=0)  # how often each replica purges
    retention_purge_chunk: int = Field(default=5000, ge=1, le=100_000)  # documents per delete
    outbox_correlation_index: bool = False  # index outbox.correlationids (same trade-off)
    dlq_age_gauge: bool = True  # peek at the head of <service>.dlq every 30 s (shared.dlq_age)
    dlq_age_walk: bool = False  # RabbitMQ 3.x: walk the whole DLQ to read its head (shared.dlq_age)
    # a DLQ message handed out this often is published again, fresh (the gauge and the dlq tools)
    dlq_renew_at: int = 10
    # how far before and after now an event time may lie (shared.bounds); outside: out_of_range
    event_time_max_age_days: float = Field(
        default=DEFAULT_MAX_AGE / timedelta(days=1), gt=0, le=36500
    )
    event_time_max_ahead_s: float = Field(
        default=DEFAULT_MAX_AHEAD.total_seconds(), ge=0, le=366 * 86400
    )

    @model_validator(mode="after")
    def _horizon_after_margin(self) -> ServiceSettings:
        """The deduplication horizon (retention minus margin) must be a positive span."""
        if self.inbox_ttl and self.inbox_retention_s <= self.dedup_horizon_margin_s:
            raise ValueError(
                "inbox_retention_s must exceed dedup_horizon_margin_s: the difference is how old "
                "an event may be and still be accepted"
            )
        return self

    def event_time_window(self) -> EventTimeWindow:
        """The window the consumer's parser holds event times to."""
        return EventTimeWindow(
            max_age=timedelta(days=self.event_time_max_age_days),
            max_ahead=timedelta(seconds=self.event_time_max_ahead_s),
        )

    def db_name(self, service: str) -> str:
        return self.mongodb_db or "distsync_" + service.replace("-", "_")


DEFAULT_PORTS = {name: port for name, _, port in SERVICE_TABLE}

S = TypeVar("S", bound=ServiceSettings)


@functools.cache
def _defaults(cls: type[ServiceSettings]) -> ServiceSettings:
    """One defaults instance per settings class (settings are never changed after start)."""
    return cls.model_construct()


def settings_as(settings: object, cls: type[S]) -> S:
    """The settings the runtime passes down (`uow.settings`, `ctx.settings`) as a service's own
    class; its defaults, not the environment, when none were given (a unit of work in a test)."""
    if settings is None:
        settings = _defaults(cls)
    if not isinstance(settings, cls):
        raise TypeError(f"{cls.__name__} needed, not {type(settings).__name__}")
    return settings
