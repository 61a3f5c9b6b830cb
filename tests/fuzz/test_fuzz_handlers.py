"""Generated hostile messages through each service's parser, routing checks, schema and handlers,
in memory, a few in a row on one store so they meet on the same SKU, order or PO.

Whatever arrives, the outcome is one the runtime routes cleanly: accepted, or refused with an
error that dead-letters it with a reason (EnvelopeError, a schema error, a PermanentError) or
retries it (RetryableError). Never another exception, which would be a retry of a permanent
problem or a crash. And whatever is accepted leaves documents MongoDB can store and emits
events that keep distsync's own contract: valid for their published model, finite JSON,
representable in AMQP properties."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamqp.header import ContentHeader
from pydantic import ValidationError

from shared.consumer import check_arrival
from shared.envelope import EnvelopeError, amqp_properties, parse
from shared.errors import PermanentError, RetryableError
from shared.messaging import _properties
from shared.service import Incoming, ServiceDefinition
from shared.topology import all_services
from shared.uow import InMemoryUnitOfWork
from tests.fuzz.hostile import envelope

# the services that consume messages (the ingress has no routes: its HTTP is fuzzed by
# tests/contracts/test_schemathesis.py)
SERVICES = {s.name: s for s in all_services() if s.routes}
EXAMPLES = int(os.environ.get("DISTSYNC_FUZZ_EXAMPLES", "150"))


async def deliver(
    svc: ServiceDefinition, uow: InMemoryUnitOfWork, exchange: str, key: str, body: bytes
) -> str:
    """What the consumer does with one message, up to the commit; returns the outcome."""
    from datetime import UTC, datetime

    try:
        ev = parse(body)
    except EnvelopeError:
        return "dead_lettered"
    route = svc.route_for(ev.type)
    if route is None:
        return "dead_lettered"
    try:
        check_arrival(ev.type, exchange, key, route)
        data = route.model.model_validate(ev.data)
    except (PermanentError, ValidationError):
        return "dead_lettered"
    uow.current = ev
    try:
        await route.handler(Incoming(ev, data, exchange, key, datetime.now(UTC)), uow)
    except PermanentError:
        return "dead_lettered"
    except RetryableError:
        return "retried"
    return "applied"


def check_outputs(svc: ServiceDefinition, uow: InMemoryUnitOfWork) -> None:
    """Everything written can be stored, everything emitted keeps the contract."""
    published = {p.type: p.model for p in svc.publishes}
    for c, k, doc in uow.dirty_items():
        bson.encode(doc)  # an int beyond 64 bits or a bad key would fail the transaction
        assert len(k.encode()) < 1024, (c, k)
    for pe in uow.events:
        ev = pe.event
        assert ev.type in published, f"{svc.name} emitted unpublished type {ev.type}"
        body = ev.to_json_bytes()
        again = json.loads(body, parse_constant=_no_constant)
        published[ev.type].model_validate(again["data"])
        header = ContentHeader(properties=_properties(amqp_properties(ev)), body_size=len(body))
        header.marshal()


def _no_constant(name: str) -> Any:
    raise AssertionError(f"emitted JSON holds {name}")


@pytest.mark.parametrize("service", sorted(SERVICES))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("DISTSYNC_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(r=st.randoms(use_true_random=False), n=st.integers(1, 5))
async def test_any_message_is_accepted_or_refused_with_a_reason_and_outputs_keep_the_contract(
    service: str, r: random.Random, n: int
) -> None:
    svc = SERVICES[service]
    settings_obj = (svc.settings_cls or object)() if svc.settings_cls else None
    store: dict[str, dict[str, dict[str, Any]]] = {}
    for _ in range(n):
        # one unit of work per message over one store: a refused message's transaction is
        # rolled back (never committed), as the runtime isolates it from its batch
        uow = InMemoryUnitOfWork(svc.name, store, settings=settings_obj)
        exchange, key, body, _id = envelope(r, svc)
        if await deliver(svc, uow, exchange, key, body) == "applied":
            check_outputs(svc, uow)
            uow.commit()
