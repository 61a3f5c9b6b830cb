"""What a handler emits is checked against the service's published models once, when it is
emitted: an event that breaks the contract is a permanent failure of the message being handled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import OutgoingEventInvalid, PermanentError
from shared.outbox import outbox_doc
from shared.service import Publication
from shared.uow import InMemoryUnitOfWork, contract_from


class Counted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    total: int = Field(ge=0)


CONTRACT = {"thing.counted": Counted}


def uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork("counter", contract=CONTRACT)


def test_an_event_that_keeps_the_contract_is_emitted_checked_and_encoded_once() -> None:
    u = uow()
    ev = u.emit("thing.counted", Counted(key="k", total=3), key="k")
    pe = u.events[0]
    assert pe.validated and pe.body == ev.to_json_bytes()
    assert outbox_doc(u.events, datetime.now(UTC))["validated"] is True


def test_data_that_breaks_the_published_model_fails_the_message_for_good() -> None:
    u = uow()
    with pytest.raises(OutgoingEventInvalid, match="total") as e:
        u.emit("thing.counted", {"key": "k", "total": -1}, key="k")
    assert isinstance(e.value, PermanentError) and e.value.kind == "outgoing_event_invalid"
    with pytest.raises(OutgoingEventInvalid, match="secret: Extra inputs"):
        u.emit("thing.counted", {"key": "k", "total": 1, "secret": "x"}, key="k")
    assert u.events == []


def test_a_type_the_service_does_not_publish_is_refused() -> None:
    with pytest.raises(OutgoingEventInvalid, match="not among the events it publishes"):
        uow().emit("thing.deleted", {"key": "k"}, key="k")


def test_an_envelope_value_that_cannot_be_encoded_is_refused_when_emitted() -> None:
    with pytest.raises(OutgoingEventInvalid, match="envelope"):
        InMemoryUnitOfWork("free").emit("thing.counted", {"n": object()}, key="k")


def test_without_a_contract_events_are_not_checked_and_the_relay_checks_them() -> None:
    u = InMemoryUnitOfWork("free")
    u.emit("anything", {"whatever": 1}, key="k")
    assert not u.events[0].validated
    assert "validated" not in outbox_doc(u.events, datetime.now(UTC))


def test_a_service_contract_comes_from_its_publications() -> None:
    assert contract_from([Publication("thing.counted", Counted)]) == CONTRACT
    assert contract_from([]) is None
