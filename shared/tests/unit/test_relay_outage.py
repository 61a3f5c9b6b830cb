"""Which publish errors the outbox relay treats as a broker outage (events kept, retried) and
which as a problem of the event (set aside to the dead-letter queue)."""

from __future__ import annotations

import aiormq

from shared.relay.drain import is_outage


def test_a_connection_between_nodes_is_an_outage() -> None:
    # what aio-pika raises for a channel asked of a robust connection while it reconnects
    assert is_outage(RuntimeError("Connection was not opened"))
    assert is_outage(aiormq.exceptions.AMQPConnectionError("reset"))
    assert is_outage(ConnectionResetError(104, "Connection reset by peer"))


def test_other_errors_are_not_outages() -> None:
    assert not is_outage(RuntimeError("something else"))
    assert not is_outage(ValueError("bad event"))
