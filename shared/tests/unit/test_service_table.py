"""The services of the system are listed once (shared.service.SERVICE_TABLE); everything else
that lists them derives its list from there."""

from __future__ import annotations

from importlib.metadata import entry_points

from shared.service import SERVICE_NAMES, SERVICE_PACKAGES, SERVICE_TABLE
from shared.settings import DEFAULT_PORTS
from shared.topology import all_services, full_topology


def test_names_packages_and_ports_come_from_the_one_table():
    assert SERVICE_NAMES == tuple(row[0] for row in SERVICE_TABLE)
    assert list(DEFAULT_PORTS) == list(SERVICE_NAMES)
    assert sorted(DEFAULT_PORTS.values()) == list(range(8001, 8001 + len(SERVICE_TABLE)))
    assert SERVICE_PACKAGES["order-status"] == "order_status"


def test_the_installed_services_are_those_of_the_table_in_its_order():
    assert tuple(s.name for s in all_services()) == SERVICE_NAMES
    for ep in entry_points(group="distsync.services"):
        assert ep.value.split(".", 1)[0] == SERVICE_PACKAGES[ep.name]


def test_the_ingress_is_in_the_table_on_8006():
    assert DEFAULT_PORTS["ingress"] == 8006
    assert SERVICE_PACKAGES["ingress"] == "ingress"


def test_a_service_that_consumes_nothing_still_gets_its_own_queues_and_no_binding():
    """The ingress publishes only (no routes). The runtime consumes `<service>.main` and the
    DLQ-age gauge reads `<service>.dlq` for every service, so it keeps them; nothing is bound to
    its main queue, so nothing arrives there."""
    (ingress,) = [s for s in all_services() if s.name == "ingress"]
    assert ingress.routes == ()
    topo = full_topology([ingress])
    assert topo.queue("ingress.main").bindings == []
    assert topo.queue("ingress.dlq").bindings == [("ingress.dlx", "#")]
    assert {"ingress.events", "ingress.dlx", "ingress.retry"} <= set(topo.exchanges)
