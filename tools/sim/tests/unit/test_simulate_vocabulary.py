"""The simulator speaks the services' vocabularies: what its carriers, source systems and
inspectors send is what the services' own tables know."""

from __future__ import annotations

from typing import get_args

import pytest

from availability.domain.rules import DISPOSITIONS as DISPOSITION_EFFECTS
from carrier_tracking.domain.carriers import KNOWN_CARRIERS, MILESTONES, classify
from distsync_sim.simulate.carriers import CARRIER_WEIGHTS, PROFILES, description
from distsync_sim.simulate.events import SimEvent
from distsync_sim.simulate.model import SimConfig, World
from distsync_sim.simulate.returns_flow import DISPOSITION_WEIGHTS
from distsync_sim.simulate.truth_orders import mapped
from order_status.domain.mappings import DEFAULTS
from returns.messages import DISPOSITIONS, Status

STEP_MILESTONE = {
    "label": "label_created",
    "pickup": "picked_up",
    "transit": "in_transit",
    "ofd": "out_for_delivery",
    "attempt": "delivery_attempted",
    "delivered": "delivered",
    "exception": "exception",
    "info": None,
}
UNMAPPED_ON_PURPOSE = {("erp", "ZREL-7")}  # an ERP code no table knows: recorded, moves nothing


def stream(seed: int, n: int) -> list[SimEvent]:
    w = World(SimConfig(seed=seed, skus=80))
    evs = w.bootstrap()
    while len(evs) < n:
        evs += w.step()
    return evs


@pytest.mark.parametrize("carrier", sorted(PROFILES))
def test_every_code_a_simulated_carrier_sends_means_its_step_in_carrier_trackings_table(
    carrier: str,
) -> None:
    for step, codes in PROFILES[carrier].items():
        for code in codes:
            meaning = classify(carrier, code)
            assert not meaning.unmapped, (carrier, code)
            assert meaning.milestone == STEP_MILESTONE[step], (carrier, step, code)
            assert description(carrier, code)


def test_the_simulated_carriers_are_the_ones_carrier_tracking_knows() -> None:
    assert set(PROFILES) == set(CARRIER_WEIGHTS) == set(KNOWN_CARRIERS)


def test_every_milestone_moves_an_order_through_order_statuss_carrier_table() -> None:
    assert all(mapped("carrier", m) is not None for m in MILESTONES)


def test_every_rma_status_the_returns_service_announces_is_in_order_statuss_returns_table() -> None:
    assert all(DEFAULTS.lookup("returns", s).known for s in get_args(Status))


def test_every_native_status_the_simulated_systems_send_is_in_order_statuss_tables() -> None:
    sent = {
        (e.source.split("/", 1)[0], e.data["native_status"])
        for e in stream(5, 8000)
        if e.type == "order.status_reported"
    }
    assert sent - UNMAPPED_ON_PURPOSE
    for system, native in sent:
        known = DEFAULTS.lookup(system, native).known
        assert known == ((system, native) not in UNMAPPED_ON_PURPOSE), (system, native)


def test_the_inspectors_dispositions_are_the_returns_services_and_availability_knows_each() -> None:
    assert set(DISPOSITION_WEIGHTS) == set(DISPOSITIONS) == set(DISPOSITION_EFFECTS)
