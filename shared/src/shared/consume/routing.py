"""Where a failed message goes: back to the queue through a retry queue with a growing delay,
or to the DLQ with failure headers. Either way its fate is decided, so it is acked here."""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from shared import failures as F
from shared.acks import Settler
from shared.consume.admission import Parsed, arrival
from shared.errors import PermanentError, RetryableError
from shared.logging import get_logger
from shared.messaging import Publisher
from shared.metrics import CONSUMED, DLQ_PUBLISHED, FAILED
from shared.topology import dlx, retry_exchange, retry_queue

log = get_logger("shared.consumer")


class FailureRouter:
    """Retries or dead-letters the messages of one service's queue."""

    def __init__(
        self, service: str, queue: str, settings: Any, publisher: Publisher, acks: Settler
    ) -> None:
        self.service = service
        self.queue = queue
        self.settings = settings
        self.publisher = publisher
        self.acks = acks

    async def handler_failed(self, p: Parsed, exc: BaseException) -> None:
        """A permanent error goes to the DLQ at once; any other is retried after a delay until
        `max_attempts`, then dead-lettered."""
        t = p.envelope.type
        if isinstance(exc, PermanentError):
            await self.dead_letter(p.message, exc, exc.kind, t)
            return
        attempts = F.attempts_of(p.message.headers or {}) + 1
        FAILED.labels(self.service, t, "handler_error").inc()
        if attempts >= self.settings.max_attempts:
            # a RetryableError says what it is once retrying is over (an unknown unit that no
            # item update came to define is a rejection, not a crash)
            kind = exc.kind if isinstance(exc, RetryableError) else "exhausted"
            await self.dead_letter(p.message, exc, kind, t)
            return
        delays = self.settings.retry_delays_s
        delay = delays[min(attempts - 1, len(delays) - 1)]
        exchange, key = arrival(p.message, self.service)
        headers = F.failure_headers(
            previous=dict(p.message.headers or {}),
            exc=exc,
            kind="handler_error",
            service=self.service,
            queue=self.queue,
            exchange=exchange,
            routing_key=key or t,
            event_type=t,
        )
        log.warning(
            "message_retry_scheduled",
            message_id=p.envelope.id,
            correlation_id=p.envelope.correlationid,
            type=t,
            attempt=attempts,
            delay_s=delay,
            error=repr(exc)[:300],
        )
        await self.publisher.publish_raw(
            retry_exchange(self.service),
            retry_queue(self.service, delay),
            p.message.body,
            _props(p.message),
            headers=headers,
            type_label=t,
        )
        CONSUMED.labels(self.service, t, "retried").inc()
        await self.acks.ack_one(p.message)

    async def dead_letter(
        self, m: AbstractIncomingMessage, exc: BaseException, kind: str, event_type: str | None
    ) -> None:
        """Publish the message to the service's DLQ with failure headers, then ack it."""
        t = event_type or "unknown"
        exchange, key = arrival(m, self.service)
        headers = F.failure_headers(
            previous=dict(m.headers or {}),
            exc=exc,
            kind=kind,
            service=self.service,
            queue=self.queue,
            exchange=exchange,
            routing_key=key,
            event_type=event_type,
        )
        log.warning(
            "message_dead_lettered",
            message_id=m.message_id,
            correlation_id=m.correlation_id,
            type=t,
            kind=kind,
            reason=str(exc)[:500],
        )
        await self.publisher.publish_raw(
            dlx(self.service),
            key or t,
            m.body,
            _props(m),
            headers=headers,
            type_label=t,
        )
        DLQ_PUBLISHED.labels(self.service, t, kind).inc()
        FAILED.labels(self.service, t, kind).inc()
        CONSUMED.labels(self.service, t, "dead_lettered").inc()
        await self.acks.ack_one(m)


def _props(m: AbstractIncomingMessage) -> dict[str, Any]:
    return {
        "message_id": m.message_id,
        "type": m.type,
        "correlation_id": m.correlation_id,
        "timestamp": m.timestamp,
        "content_type": m.content_type,
        "delivery_mode": 2,
    }
