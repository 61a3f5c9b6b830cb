"""The RabbitMQ definitions: generated from one model, least privilege, no password, same as the code.

The regex checks here evaluate the permissions as RabbitMQ does (an anchored regex match on the
resource name, the default exchange being "amq.default"); test_least_privilege_on_the_local_broker
proves the same against a real broker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

PUBLISHERS = {
    "erp": "erp.events",
    "wms": "wms.events",
    "carrier": "carrier.events",
    "commerce": "commerce.events",
}


def _universe(definitions: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in definitions["exchanges"]} | {
        q["name"] for q in definitions["queues"]
    }
    return names | {"amq.default"}


def _allowed(definitions: dict[str, Any], user: str, what: str) -> set[str]:
    (perm,) = [p for p in definitions["permissions"] if p["user"] == user]
    pattern = re.compile(perm[what])
    return {n for n in _universe(definitions) if pattern.search(n)}


def _own(definitions: dict[str, Any], service: str) -> set[str]:
    return {n for n in _universe(definitions) if n.startswith(service + ".")}


def test_definitions_json_is_what_the_generator_writes(
    definitions: dict[str, Any], model: ModuleType
) -> None:
    assert definitions == model.build(None)


def test_the_committed_definitions_give_no_user_a_password(definitions: dict[str, Any]) -> None:
    """RabbitMQ imports a user without a password, and nobody can log in as it: the passwords
    are generated at first start (deploy/init_secrets.py) or come from a secret store."""
    assert {u["name"] for u in definitions["users"]} >= {"distsync-admin", "wms"}
    for user in definitions["users"]:
        assert not {"password", "password_hash", "hashing_algorithm"} & set(user), user["name"]


def test_a_definitions_file_with_hashes_is_written_only_from_passwords_given(
    model: ModuleType, tmp_path: Path
) -> None:
    passwords = {u: f"pw-{i}-{u}" for i, u in enumerate(model.user_names())}
    path = tmp_path / "private" / "definitions.json"
    model.write_with_hashes(path, passwords)
    users = {u["name"]: u for u in json.loads(path.read_text())["users"]}
    for name, pw in passwords.items():
        assert model.password_matches(users[name]["password_hash"], pw)
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert model.build(passwords)["permissions"] == model.build(None)["permissions"]


def test_there_is_no_guest_user_and_guest_may_only_connect_locally(
    root: Path, definitions: dict[str, Any]
) -> None:
    assert "guest" not in {u["name"] for u in definitions["users"]}
    conf = (root / "deploy/rabbitmq/rabbitmq.conf").read_text()
    assert re.search(r"^loopback_users\.guest = true$", conf, re.M)
    cluster = yaml.safe_load((root / "deploy/k8s/base/rabbitmq/rabbitmqcluster.yaml").read_text())
    assert "loopback_users.guest = true" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    assert cluster["spec"]["replicas"] == 3


@pytest.mark.parametrize(("system", "exchange"), sorted(PUBLISHERS.items()))
def test_a_publishing_system_may_write_only_its_own_exchange(
    definitions: dict[str, Any], system: str, exchange: str
) -> None:
    assert _allowed(definitions, system, "write") == {exchange}
    assert _allowed(definitions, system, "configure") == set()
    assert _allowed(definitions, system, "read") == set()


def test_a_service_may_touch_only_its_own_objects_and_never_the_default_exchange(
    definitions: dict[str, Any], service: str
) -> None:
    own = _own(definitions, service)
    # carrier-tracking publishes its webhooks' events beside the carriers; the ingress publishes
    # what its callers send, on every ingress exchange (narrowed by topic permissions, below)
    extra = {
        "carrier-tracking": {"carrier.events"},
        "ingress": set(PUBLISHERS.values()),
    }.get(service, set())
    assert f"{service}.retry" in own  # its retries go through its own exchange
    assert _allowed(definitions, service, "configure") == own
    assert _allowed(definitions, service, "read") == own
    assert _allowed(definitions, service, "write") == own | extra
    others = {n for n in _universe(definitions) if n.endswith((".main", ".dlq"))} - own
    assert not others & _allowed(definitions, service, "read")


def test_a_service_may_take_the_dlq_tools_lock_on_its_own_dlq_only(
    definitions: dict[str, Any], service: str
) -> None:
    """The DLQ-age gauge reads the service's DLQ head under the lock `distsync dlq` takes."""
    (perm,) = [p for p in definitions["permissions"] if p["user"] == service]
    services = [p["user"] for p in definitions["permissions"] if "dlq-lock" in p["configure"]]
    assert service in services
    for other in services:
        may = re.search(perm["configure"], f"distsync.dlq-lock.{other}.dlq") is not None
        assert may == (other == service), other
    assert not re.search(perm["configure"], "distsync.dlq-lock.unrouted")
    assert not re.search(perm["read"], f"distsync.dlq-lock.{service}.dlq")


def test_a_consuming_service_alone_may_run_its_partitions(
    definitions: dict[str, Any], service: str
) -> None:
    """Partitions (docs/deploy.md, "Partitions"): the service declares and reads its partition
    queues and replicas queue, takes its router lock, and alone publishes to `<svc>.partitions`;
    the ingress, which consumes nothing, has none."""
    perms = {p["user"]: p for p in definitions["permissions"]}
    parts = [f"{service}.part.0", f"{service}.part.11", f"{service}.part.127"]
    objects = [f"{service}.partitions", *parts, f"{service}.replicas"]
    lock = f"distsync.router-lock.{service}"
    partitioned = service != "ingress"
    mine = perms[service]
    for name in objects:
        assert bool(re.search(mine["configure"], name)) == partitioned, name
        assert bool(re.search(mine["read"], name)) == partitioned, name
    assert bool(re.search(mine["configure"], lock)) == partitioned
    for name in (f"{service}.partitions", *parts):  # publish; bind the partition queues
        assert bool(re.search(mine["write"], name)) == partitioned, name
    assert not re.search(mine["write"], f"{service}.replicas")  # nothing is ever routed there
    for name in (f"{service}.part.x", f"{service}.partitionsx", f"{service}.part.1.main"):
        assert not any(re.search(mine[w], name) for w in ("configure", "write", "read")), name
    for user, perm in perms.items():
        if user in (service, "distsync-admin"):
            continue
        for what in ("configure", "write", "read"):
            assert not any(re.search(perm[what], n) for n in (*objects, lock)), (user, what)


def test_only_the_admin_user_may_write_to_the_default_exchange(
    definitions: dict[str, Any],
) -> None:
    """Through the default exchange a user may write into any queue by its name."""
    may = {p["user"] for p in definitions["permissions"] if re.search(p["write"], "amq.default")}
    assert may == {"distsync-admin"}


def test_only_the_admin_user_may_configure_shared_objects(definitions: dict[str, Any]) -> None:
    shared = {"unrouted", *PUBLISHERS.values()}
    for perm in definitions["permissions"]:
        may = {n for n in shared if re.search(perm["configure"], n)}
        assert may == (shared if perm["user"] == "distsync-admin" else set()), perm["user"]


def test_kubernetes_users_and_permissions_equal_the_definitions(
    root: Path, definitions: dict[str, Any]
) -> None:
    folder = root / "deploy/k8s/base/rabbitmq"
    docs = [d for d in yaml.safe_load_all((folder / "permissions.yaml").read_text()) if d]
    perms = [d for d in docs if d["kind"] == "Permission"]
    topics = [d for d in docs if d["kind"] == "TopicPermission"]
    assert len(perms) + len(topics) == len(docs)
    users = [d for d in yaml.safe_load_all((folder / "users.yaml").read_text()) if d]
    as_k8s = sorted(
        (
            p["spec"]["userReference"]["name"],
            p["spec"]["vhost"],
            tuple(sorted(p["spec"]["permissions"].items())),
        )
        for p in perms
    )
    as_defs = sorted(
        (
            p["user"],
            p["vhost"],
            tuple(sorted((k, p[k]) for k in ("configure", "write", "read"))),
        )
        for p in definitions["permissions"]
    )
    assert as_k8s == as_defs
    assert sorted(
        (
            t["spec"]["userReference"]["name"],
            t["spec"]["vhost"],
            tuple(sorted(t["spec"]["permissions"].items())),
        )
        for t in topics
    ) == sorted(
        (t["user"], t["vhost"], tuple(sorted((k, t[k]) for k in ("exchange", "write", "read"))))
        for t in definitions["topic_permissions"]
    )
    assert sorted((u["metadata"]["name"], tuple(u["spec"]["tags"])) for u in users) == sorted(
        (u["name"], tuple(u["tags"])) for u in definitions["users"]
    )


def test_definitions_declare_exactly_what_topology_apply_declares(
    definitions: dict[str, Any], model: ModuleType
) -> None:
    """Same names, types and arguments, so `distsync topology apply` never meets a conflict."""
    from shared.topology import all_services, full_topology

    try:
        services = all_services()
    except Exception as e:  # a service's code that does not import fails its own tests
        pytest.skip(f"the installed services do not load ({type(e).__name__}: {e})")
    assert sorted(s.name for s in services) == sorted(model.SERVICES)
    topo = full_topology(services)
    assert {e["name"]: (e["type"], e["arguments"]) for e in definitions["exchanges"]} == {
        name: (kind, args) for name, (kind, args) in topo.exchanges.items()
    }
    assert {q["name"]: q["arguments"] for q in definitions["queues"]} == {
        q.name: q.arguments for q in topo.queues
    }
    code_bindings = {(ex, q.name, key) for q in topo.queues for ex, key in q.bindings}
    for b in definitions["bindings"]:
        assert (b["source"], b["destination"], b["routing_key"]) in code_bindings


def test_kubernetes_users_and_permissions_files_are_what_the_generator_writes(
    root: Path, model: ModuleType
) -> None:
    folder = root / "deploy/k8s/base/rabbitmq"
    assert (folder / "users.yaml").read_text() == model.k8s_users()
    assert (folder / "permissions.yaml").read_text() == model.k8s_permissions()


def _topic(definitions: dict[str, Any], user: str, exchange: str) -> dict[str, str]:
    (perm,) = [
        t
        for t in definitions["topic_permissions"]
        if t["user"] == user and t["exchange"] == exchange
    ]
    return perm


def _bound_types() -> dict[str, set[str]]:
    """Per ingress exchange, the event types the services' code binds there."""
    from shared.topology import all_services

    try:
        services = all_services()
    except Exception as e:  # a service's code that does not import fails its own tests
        pytest.skip(f"the installed services do not load ({type(e).__name__}: {e})")
    out: dict[str, set[str]] = {ex: set() for ex in PUBLISHERS.values()}
    for svc in services:
        for exchange, type_ in svc.bindings():
            if exchange in out:
                out[exchange].add(type_)
    return out


def test_the_ingress_types_table_is_what_the_services_bind(model: ModuleType) -> None:
    """generate_definitions.py needs only the standard library, so it keeps the table itself;
    it must not drift from the routes."""
    assert {ex: set(ts) for ex, ts in model.INGRESS_TYPES.items()} == _bound_types()


@pytest.mark.parametrize("exchange", sorted(PUBLISHERS.values()))
def test_the_ingress_may_publish_on_an_ingress_exchange_only_the_types_bound_there(
    definitions: dict[str, Any], exchange: str
) -> None:
    """RabbitMQ checks a topic permission against the routing key, which is the event type."""
    perm = _topic(definitions, "ingress", exchange)
    bound = _bound_types()
    every_type = set().union(*bound.values()) | {"ingress.anything", "#", "order.created.x"}
    may = {t for t in every_type if re.search(perm["write"], t)}
    assert may == bound[exchange]
    assert perm["read"] == "^$"
    assert exchange in {e["name"] for e in definitions["exchanges"] if e["type"] == "topic"}


def test_the_reconciliation_user_may_publish_only_counts_on_wms_events(
    definitions: dict[str, Any],
) -> None:
    assert _allowed(definitions, "reconcile", "write") == {"wms.events"}
    assert _allowed(definitions, "reconcile", "configure") == set()
    assert _allowed(definitions, "reconcile", "read") == set()
    perm = _topic(definitions, "reconcile", "wms.events")
    candidates = set().union(*_bound_types().values())
    assert {t for t in candidates if re.search(perm["write"], t)} == {"inventory.counted"}
    assert [t["user"] for t in definitions["topic_permissions"]].count("reconcile") == 1
