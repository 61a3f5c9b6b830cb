"""The DLQ-age gauge's pure parts: which failure time it reads, which brokers allow reading the
head alone, when the head is renewed, and that the runtime runs it for every service once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from pamqp import commands as spec

from shared import dlq_age as A
from shared import failures as F
from shared.dlq_message import Head, renewal_due, renewal_properties
from shared.runtime import periodic_tasks
from shared.service import PeriodicTask, ServiceDefinition

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def dead_letter(queue: str = "receipt.dlq", **headers: object) -> Head:
    return Head(queue=queue, body=b'{"id": "ev-1"}', headers=dict(headers), message_id="ev-1")


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


def test_a_message_with_no_failure_headers_ages_from_its_own_timestamp():
    m = dataclasses.replace(dead_letter(), timestamp=NOW - timedelta(minutes=1))
    assert A.age_of(m, NOW) == 60.0


def test_a_failure_time_ahead_of_this_clock_reads_as_zero_not_negative():
    m = dead_letter(**{F.H_LAST: F._iso(NOW + timedelta(seconds=20))})
    assert A.age_of(m, NOW) == 0.0


def test_a_head_without_any_time_ages_from_when_it_was_first_seen_here():
    m = dead_letter(queue="t-untimed.dlq")
    assert A.age_of(m, NOW) == 0.0
    assert A.age_of(m, NOW + timedelta(minutes=2)) == 120.0
    other = dataclasses.replace(m, body=b"{}", message_id="ev-2")
    assert A.age_of(other, NOW + timedelta(minutes=3)) == 0.0  # a new head starts again


def test_only_rabbitmq_4_is_trusted_to_give_a_returned_message_back_at_the_head():
    assert A.requeues_at_head("4.1.0")
    assert A.requeues_at_head("4.0.0-rc.2")
    assert not A.requeues_at_head("3.13.7")
    assert not A.requeues_at_head("3.10.8")
    assert not A.requeues_at_head("")
    assert not A.requeues_at_head("unknown")


def test_the_head_is_renewed_before_its_next_return_reaches_the_threshold():
    assert not renewal_due(dead_letter(**{"x-delivery-count": 1}), 3)
    assert renewal_due(dead_letter(**{"x-delivery-count": 2}), 3)
    assert renewal_due(dead_letter(**{"x-acquired-count": 5}), 3)
    assert renewal_due(dead_letter(**{"x-delivery-count": b"7"}), 3)
    assert not renewal_due(dead_letter(**{"x-delivery-count": "garbage"}), 3)
    assert not renewal_due(dead_letter(**{"x-delivery-count": 50}), 0)


def test_the_runtime_refreshes_every_services_dlq_age_every_30_seconds_once():
    svc = ServiceDefinition(name="t-svc", routes=())
    assert svc.periodic == ()  # a service declares nothing for it
    assert [(t.name, t.interval_s, t.fn) for t in periodic_tasks(svc)] == [
        (A.DLQ_AGE_TASK, 30.0, A.refresh)
    ]

    async def own(ctx: object) -> None:
        del ctx

    with_own = ServiceDefinition(name="t-svc", routes=(), periodic=(PeriodicTask("own", 5, own),))
    assert [t.name for t in periodic_tasks(with_own)] == ["own", A.DLQ_AGE_TASK]
    replaced = dataclasses.replace(with_own, periodic=(PeriodicTask(A.DLQ_AGE_TASK, 60, own),))
    assert [(t.name, t.interval_s) for t in periodic_tasks(replaced)] == [(A.DLQ_AGE_TASK, 60)]


def delivered(exchange: str, routing_key: str, **props: object) -> SimpleNamespace:
    return SimpleNamespace(
        body=b"{}",
        exchange=exchange,
        routing_key=routing_key,
        header=SimpleNamespace(properties=spec.Basic.Properties(**props)),
    )


def test_a_renewed_copy_keeps_where_the_broker_first_took_it_from_and_drops_the_counters():
    dm = delivered(
        "receipt.dlx",
        "po.created",
        message_id="m-1",
        user_id="receipt",
        headers={"x-first-death-exchange": "erp.events", "x-delivery-count": 4},
    )
    props = renewal_properties(dm, Head.of("receipt.dlq", dm))
    assert props.headers == {
        "x-first-death-exchange": "erp.events",
        F.H_ORIG_EXCHANGE: "erp.events",
        F.H_ORIG_KEY: "po.created",
    }
    assert props.message_id == "m-1" and props.user_id is None


def test_a_renewed_copy_of_a_copy_or_of_a_runtime_dead_letter_keeps_its_headers_as_they_are():
    own = {F.H_ORIG_EXCHANGE: "wms.events", F.H_ORIG_KEY: "thing.happened", F.H_ATTEMPTS: 5}
    dm = delivered("receipt.dlx", "thing.happened", message_id="m-2", headers=own)
    assert renewal_properties(dm, Head.of("receipt.dlq", dm)).headers == own
    again = delivered("receipt.dlx", "receipt.dlq", headers={"x-delivery-count": 9})
    props = renewal_properties(again, Head.of("receipt.dlq", again))
    assert props.headers == {} and props.message_id is None  # no id invented for it
