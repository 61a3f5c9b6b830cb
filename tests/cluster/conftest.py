"""A three-node RabbitMQ cluster of the tests' own (distsync_sim.rabbit_cluster), once per run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from distsync_sim.rabbit_cluster import RabbitCluster, bin_dir, rabbit_cluster


@dataclass
class Vhost:
    """A vhost of the cluster: its name and the comma list of URLs (one per node) for it."""

    name: str
    url: str


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitCluster]:
    if bin_dir() is None:
        pytest.skip("rabbitmq-server is not installed: these tests start a cluster of their own")
    with rabbit_cluster() as cluster:
        print(f"\nrabbitmq cluster started in {cluster.timings['total']} s: {cluster.timings}")
        yield cluster


@pytest.fixture
def vhost(rabbit: RabbitCluster) -> Vhost:
    """A vhost of its own per test, on a cluster whose three nodes run."""
    rabbit.ensure_running()
    name = f"t-{uuid.uuid4().hex[:10]}"
    return Vhost(name, rabbit.add_vhost(name))
