"""Error kinds the runtime routes differently: permanent ones go straight to the DLQ."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help: the message goes to the dead-letter queue at once, with this reason."""

    kind = "rejected"


class Rejected(PermanentError):
    """A domain rule refuses the event (for example an unknown unit of measure)."""

    kind = "rejected"


class UnknownType(PermanentError):
    kind = "unknown_type"


class SchemaInvalid(PermanentError):
    kind = "schema_invalid"


class ContractViolation(PermanentError):
    """The message breaks the contract around its data: its `type` differs from its routing key,
    or it came in on an exchange that does not carry that type."""

    kind = "contract_violation"


class RetryableError(Exception):
    """Fails now but may succeed once another message has landed, so it is not permanent: the
    runtime retries it through the delayed retry queues and its message stays the reason in the
    failure headers. `kind` is the failure-kind it deserves once the attempts are used up."""

    kind = "exhausted"


class DeferredRejection(RetryableError):
    """A rule refuses the event for now, but a message still in flight may satisfy it (the
    `item.updated` defining a unit, held by another replica): retried first, then a rejection."""

    kind = "rejected"


class UnroutableError(Exception):
    """The broker returned a mandatory publish: no queue was bound for it."""


class PublishNacked(Exception):
    """The broker refused a publish (negative confirm)."""


class OutgoingEventInvalid(PermanentError):
    """A handler emitted an event that breaks the service's own published contract (its model,
    or the envelope): the incoming message goes to the DLQ with this reason, and its state change
    and events are not committed."""

    kind = "outgoing_event_invalid"


class Unpublishable(PermanentError):
    """The broker cannot take this message as it is (a property or routing key AMQP cannot
    encode, or an outbox event that breaks the contract): never retried. The outbox relay moves
    such an event aside to the service's DLQ."""

    kind = "unpublishable"
