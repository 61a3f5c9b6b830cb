"""The DLQ-age gauge's pure parts: which failure time it reads, which brokers allow reading the
head alone, and that every service carries the task without declaring it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from shared import dlq as D
from shared import dlq_age as A
from shared import failures as F
from shared.service import DLQ_AGE_TASK, PeriodicTask, ServiceDefinition, refresh_dlq_age

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def dead_letter(queue: str = "receipt.dlq", **headers: object) -> D.DeadLetter:
    return D.DeadLetter(
        queue=queue, body=b'{"id": "ev-1"}', properties={"message_id": "ev-1"}, headers=headers
    )


def test_the_age_counts_from_the_last_failure_not_the_first():
    m = dead_letter(
        **{
            F.H_FIRST: F._iso(NOW - timedelta(days=3)),  # its original run, before a replay
            F.H_LAST: F._iso(NOW - timedelta(minutes=5)),  # when it came back to the DLQ
        }
    )
    assert A.age_of(m, NOW) == 300.0


def test_a_message_the_broker_dead_lettered_ages_from_its_x_death_time():
    m = dead_letter(**{"x-death": [{"time": NOW - timedelta(hours=2), "reason": "delivery_limit"}]})
    assert A.age_of(m, NOW) == 7200.0


def test_a_failure_time_ahead_of_this_clock_reads_as_zero_not_negative():
    m = dead_letter(**{F.H_LAST: F._iso(NOW + timedelta(seconds=20))})
    assert A.age_of(m, NOW) == 0.0


def test_a_head_without_any_time_ages_from_when_it_was_first_seen_here():
    m = dead_letter(queue="t-untimed.dlq")
    assert A.age_of(m, NOW) == 0.0
    assert A.age_of(m, NOW + timedelta(minutes=2)) == 120.0
    other = dataclasses.replace(m, body=b"{}", properties={"message_id": "ev-2"})
    assert A.age_of(other, NOW + timedelta(minutes=3)) == 0.0  # a new head starts again


def test_only_rabbitmq_4_is_trusted_to_give_a_returned_message_back_at_the_head():
    assert A.requeues_at_head("4.1.0")
    assert A.requeues_at_head("4.0.0-rc.2")
    assert not A.requeues_at_head("3.13.7")
    assert not A.requeues_at_head("3.10.8")
    assert not A.requeues_at_head("")
    assert not A.requeues_at_head("unknown")


def test_the_head_is_renewed_before_its_next_return_reaches_the_threshold():
    s = D.DlqSettings(dlq_renew_at=3)
    assert not D.renewal_due(dead_letter(**{"x-delivery-count": 1}), s)
    assert D.renewal_due(dead_letter(**{"x-delivery-count": 2}), s)
    assert D.renewal_due(dead_letter(**{"x-acquired-count": 5}), s)
    assert not D.renewal_due(dead_letter(**{"x-delivery-count": 50}), D.DlqSettings(dlq_renew_at=0))


def test_every_service_refreshes_its_dlq_age_every_30_seconds_once():
    svc = ServiceDefinition(name="t-svc", routes=())
    assert [(t.name, t.interval_s, t.fn) for t in svc.periodic] == [
        (DLQ_AGE_TASK, 30.0, refresh_dlq_age)
    ]

    async def own(ctx: object) -> None:
        del ctx

    with_own = ServiceDefinition(name="t-svc", routes=(), periodic=(PeriodicTask("own", 5, own),))
    assert [t.name for t in with_own.periodic] == ["own", DLQ_AGE_TASK]
    assert dataclasses.replace(with_own).periodic == with_own.periodic  # not added twice


def test_the_gauge_gets_the_dlq_tools_settings_with_no_wait_for_their_lock():
    from shared.settings import ServiceSettings

    s = A.dlq_settings(ServiceSettings(amqp_url="amqp://u:p@rabbit:5672/distsync"))
    assert s.amqp_url == "amqp://u:p@rabbit:5672/distsync"
    assert s.dlq_lock_wait_s == 0.0
