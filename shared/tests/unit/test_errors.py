"""Error kinds: which failures the runtime dead-letters at once and which it retries first."""

from __future__ import annotations

from shared import failures as F
from shared.errors import DeferredRejection, PermanentError, Rejected, RetryableError


def test_a_deferred_rejection_is_retried_first_because_it_is_not_permanent():
    assert not issubclass(RetryableError, PermanentError)
    assert issubclass(DeferredRejection, RetryableError)
    assert issubclass(Rejected, PermanentError)


def test_a_deferred_rejection_ends_as_a_rejection_once_its_retries_are_used_up():
    assert DeferredRejection.kind == Rejected.kind == "rejected"
    assert RetryableError.kind == "exhausted"


def test_a_retried_error_keeps_its_reason_in_the_failure_headers():
    exc = DeferredRejection("unknown unit of measure: no conversion from CS to base unit for S1")
    h = F.failure_headers(
        previous={},
        exc=exc,
        kind="handler_error",
        service="availability",
        queue="availability.main",
        exchange="wms.events",
        routing_key="inventory.adjusted",
        event_type="inventory.adjusted",
    )
    assert h[F.H_EXC_TYPE] == "DeferredRejection"
    assert h[F.H_EXC_MSG] == str(exc)
