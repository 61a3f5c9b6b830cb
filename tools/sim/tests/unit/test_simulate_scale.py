"""`distsync simulate --replicas/--partitions`: what the options ask of the spawned services."""

from __future__ import annotations

import pytest

from distsync_sim.simulate.cluster import SERVICES
from distsync_sim.simulate.scale import partition_queues, partitions_env, replica_counts


def test_a_bare_count_gives_every_consuming_service_that_many_replicas() -> None:
    assert replica_counts(["2"]) == dict.fromkeys(SERVICES, 2)


def test_a_named_count_overrides_the_bare_one_whatever_the_form() -> None:
    got = replica_counts(["2,availability=3", "receipt=1"])
    assert got["availability"] == 3 and got["receipt"] == 1 and got["returns"] == 2


@pytest.mark.parametrize("spec", ["0", "x", "availability=", "nosuch=2", "ingress=2"])
def test_a_count_that_is_not_a_positive_number_for_a_consuming_service_is_refused(
    spec: str,
) -> None:
    with pytest.raises(ValueError):
        replica_counts([spec])


def test_no_option_leaves_the_services_their_own_settings() -> None:
    assert replica_counts(None) == {} and partitions_env(None) == {}


def test_partitions_reach_the_services_and_the_drain_check() -> None:
    assert partitions_env(6) == {"DISTSYNC_PARTITIONS": "6"}
    queues = partition_queues(6)
    assert len(queues) == 6 * len(SERVICES) and "availability.part.5" in queues
    assert partition_queues(1) == []
