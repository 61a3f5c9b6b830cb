"""Writes deploy/rabbitmq/definitions.json: vhost, topology, users, least-privilege permissions.

Run `python deploy/rabbitmq/generate_definitions.py` after changing the model below; it also writes
deploy/k8s/base/rabbitmq/{users,permissions}.yaml. The committed definitions.json holds no
password at all: RabbitMQ imports its users without one, so nobody can log in with it as it is.
With a path argument it writes only that definitions file, with the salted SHA-256 hashes
(rabbit_password_hashing_sha256) of the passwords in `RABBITMQ_PASSWORD_<USER>` (upper case,
`-` as `_`); every one must be set. deploy/init_secrets.py does that for docker compose, into the
git-ignored `.secrets/`. Standard library only, so it runs anywhere (CI, a laptop, the tests).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

VHOST = "distsync"
ADMIN_USER = "distsync-admin"
# KEDA's queue-depth scaler (deploy/k8s/components/keda): reads queue depths only.
MONITOR_USER = "keda"
HASHING = "rabbit_password_hashing_sha256"
UNROUTED = "unrouted"
RETRY_DELAYS_S = (1, 10, 60)
DELIVERY_LIMIT = 20

INGRESS = {  # publishing system (its user name) -> its exchange
    "erp": "erp.events",
    "wms": "wms.events",
    "carrier": "carrier.events",
    "commerce": "commerce.events",
}

SERVICE_MODULE = Path(__file__).resolve().parents[2] / "shared/src/shared/service.py"


def service_names(module: Path = SERVICE_MODULE) -> tuple[str, ...]:
    """The services, from `SERVICE_TABLE` in the runtime's shared/service.py (read as a literal,
    not imported: this script needs nothing but the standard library)."""
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "SERVICE_TABLE" for t in targets):
                assert node.value is not None
                return tuple(str(row[0]) for row in ast.literal_eval(node.value))
    raise LookupError(f"no SERVICE_TABLE in {module}")


SERVICES = service_names()

# The event types each ingress exchange carries: those the services bind there (their routes;
# the ingress's catalogue, services/ingress/src/ingress/catalogue.py). Whoever publishes there on
# behalf of others may publish these and nothing else: RabbitMQ topic permissions on the routing
# key, which is the event type. tests/deploy/test_rabbitmq_permissions_model.py checks this table
# against the services' code.
INGRESS_TYPES: dict[str, tuple[str, ...]] = {
    "erp.events": (
        "asn.received",
        "item.updated",
        "order.allocated",
        "order.backordered",
        "order.cancelled",
        "order.created",
        "order.deallocated",
        "order.status_reported",
        "purchase_order.cancelled",
        "purchase_order.released",
        "return.authorized",
    ),
    "wms.events": (
        "inventory.adjusted",
        "inventory.counted",
        "inventory.quarantined",
        "inventory.released",
        "order.status_reported",
        "pack.completed",
        "pick.completed",
        "receipt.recorded",
        "return.inspected",
        "return.received",
        "shipment.shipped",
        "transfer.received",
        "transfer.shipped",
    ),
    "carrier.events": ("order.status_reported", "shipment.shipped", "tracking.reported"),
    "commerce.events": ("asn.received", "order.status_reported", "return.authorized"),
}

# The ingress service publishes what HTTP callers, files and EDI send, on the ingress exchanges.
INGRESS_SERVICE = "ingress"

# The services that consume, so may partition their queue (all but the ingress, which consumes
# nothing): DISTSYNC_PARTITIONS > 1 (docs/deploy.md, "Partitions").
PARTITIONED = tuple(s for s in SERVICES if s != INGRESS_SERVICE)

# Exchanges a service may publish to besides its own <service>.events and <service>.dlx.
EXTRA_WRITES: dict[str, tuple[str, ...]] = {
    "carrier-tracking": ("carrier.events",),
    INGRESS_SERVICE: tuple(INGRESS_TYPES),
}

# (user, exchange) -> the routing keys (event types) it may publish there: topic permissions,
# for the users that write to an ingress exchange on behalf of others.
TOPIC_WRITES: dict[tuple[str, str], tuple[str, ...]] = {
    **{(INGRESS_SERVICE, ex): types for ex, types in INGRESS_TYPES.items()},
    # `distsync reconcile stock --publish-counts` (docs/reconciliation.md): counts, nothing else
    ("reconcile", "wms.events"): ("inventory.counted",),
}
# Users that only publish (no own objects): user -> the exchanges they may write.
OPERATOR_PUBLISHERS: dict[str, tuple[str, ...]] = {"reconcile": ("wms.events",)}


def _re(name: str) -> str:
    return name.replace(".", r"\.")


def _alt(names: list[str]) -> str:
    return "^(" + "|".join(names) + ")$"


def dlq_lock(service: str) -> str:
    """The exclusive queue the dlq tools hold while they read `<service>.dlq`
    (shared.topology.dlq_lock); the service takes it too, to read its DLQ's head for the DLQ-age
    gauge (shared.dlq_age)."""
    return r"distsync\.dlq-lock\." + _re(service) + r"\.dlq"


def router_lock(service: str) -> str:
    """The exclusive queue whose holder routes `<service>.main` into the partitions
    (shared.topology.router_lock)."""
    return r"distsync\.router-lock\." + _re(service)


def partition_objects(service: str) -> tuple[str, str]:
    """(what the service configures and reads, what it writes) of its partitions
    (docs/deploy.md, "Partitions"): the exchange `<service>.partitions`, which only this user
    may publish to (the router; the consumer trusts the headers it sets), the queues
    `<service>.part.<i>` (written only to bind them), and `<service>.replicas`, which it reads."""
    objects = _re(service) + r"\.(partitions|part\.[0-9]+|replicas)"
    return objects, _re(service) + r"\.(partitions|part\.[0-9]+)"


def service_permissions(service: str) -> dict[str, str]:
    """Its own objects only. Not the default exchange (amq.default): through it a user may write
    into any queue by name, so retries go through the service's own `<service>.retry`."""
    own = _re(service) + r"\.(events|dlx|retry|main|dlq|retry\.[0-9]+s)"
    configure, writes, reads = [own, dlq_lock(service)], [own], [own]
    if service in PARTITIONED:
        objects, written = partition_objects(service)
        configure += [objects, router_lock(service)]
        writes.append(written)
        reads.append(objects)
    writes += [_re(x) for x in EXTRA_WRITES.get(service, ())]
    return {
        "user": service,
        "vhost": VHOST,
        "configure": _alt(configure),
        "write": _alt(writes),
        "read": _alt(reads),
    }


def publisher_permissions(system: str) -> dict[str, str]:
    """Write on its own ingress exchange only; it declares nothing (the topology step does)."""
    return {
        "user": system,
        "vhost": VHOST,
        "configure": "^$",
        "write": "^" + _re(INGRESS[system]) + "$",
        "read": "^$",
    }


def operator_publisher_permissions(user: str) -> dict[str, str]:
    """A tool's user that publishes on given exchanges (narrowed by TOPIC_WRITES), nothing else."""
    return {
        "user": user,
        "vhost": VHOST,
        "configure": "^$",
        "write": _alt([_re(x) for x in OPERATOR_PUBLISHERS[user]]),
        "read": "^$",
    }


def topic_permissions() -> list[dict[str, str]]:
    """Per (user, topic exchange): the routing keys it may publish with; none it may bind."""
    return [
        {
            "user": user,
            "vhost": VHOST,
            "exchange": exchange,
            "write": _alt([_re(t) for t in types]),
            "read": "^$",
        }
        for (user, exchange), types in TOPIC_WRITES.items()
    ]


def admin_permissions() -> dict[str, str]:
    return {"user": ADMIN_USER, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}


def monitor_permissions() -> dict[str, str]:
    """Nothing on any object: KEDA reads a queue's depth with a passive queue.declare, which
    RabbitMQ answers for any user with access to the vhost. It cannot consume, publish or
    declare, and has no management tag (KEDA's amqp protocol needs no HTTP API)."""
    return {"user": MONITOR_USER, "vhost": VHOST, "configure": "^$", "write": "^$", "read": "^$"}


def all_permissions() -> list[dict[str, str]]:
    perms = [admin_permissions()]
    perms += [service_permissions(s) for s in SERVICES]
    perms += [publisher_permissions(p) for p in INGRESS]
    perms += [operator_publisher_permissions(u) for u in OPERATOR_PUBLISHERS]
    return [*perms, monitor_permissions()]


def user_names() -> list[str]:
    return [ADMIN_USER, *SERVICES, *INGRESS, *OPERATOR_PUBLISHERS, MONITOR_USER]


def password_env(user: str) -> str:
    return "RABBITMQ_PASSWORD_" + user.upper().replace("-", "_")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """rabbit_password_hashing_sha256: base64(salt(4) + sha256(salt + utf8 password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def password_matches(stored_hash: str, password: str) -> bool:
    raw = base64.b64decode(stored_hash)
    return hash_password(password, raw[:4]) == stored_hash


def _quorum(args: dict[str, object] | None = None) -> dict[str, object]:
    return {"x-queue-type": "quorum", **(args or {})}


def _queue(name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "name": name,
        "vhost": VHOST,
        "durable": True,
        "auto_delete": False,
        "arguments": arguments,
    }


def _exchange(
    name: str, type_: str, arguments: dict[str, object] | None = None
) -> dict[str, object]:
    return {
        "name": name,
        "vhost": VHOST,
        "type": type_,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": arguments or {},
    }


def _binding(source: str, destination: str, key: str) -> dict[str, object]:
    return {
        "source": source,
        "vhost": VHOST,
        "destination": destination,
        "destination_type": "queue",
        "routing_key": key,
        "arguments": {},
    }


def topology() -> dict[str, list[dict[str, object]]]:
    """Exchanges, queues and the structural bindings (dlx -> dlq, unrouted), as shared.topology
    declares them; the per-event-type bindings of <service>.main are declared only by
    `distsync topology apply` (from each service's routes), so they live in code alone."""
    exchanges = [_exchange(UNROUTED, "fanout")]
    exchanges += [_exchange(x, "topic", {"alternate-exchange": UNROUTED}) for x in INGRESS.values()]
    queues = [_queue(UNROUTED, _quorum())]
    bindings = [_binding(UNROUTED, UNROUTED, "#")]
    for svc in SERVICES:
        exchanges.append(_exchange(f"{svc}.events", "topic"))
        exchanges.append(_exchange(f"{svc}.dlx", "fanout"))
        exchanges.append(_exchange(f"{svc}.retry", "direct"))
        main_args = _quorum(
            {
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": f"{svc}.dlx",
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
        )
        queues.append(_queue(f"{svc}.main", main_args))
        queues.append(_queue(f"{svc}.dlq", _quorum()))
        for delay in RETRY_DELAYS_S:
            retry_args = _quorum(
                {
                    "x-message-ttl": delay * 1000,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": f"{svc}.main",
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                }
            )
            queues.append(_queue(f"{svc}.retry.{delay}s", retry_args))
            bindings.append(
                _binding(f"{svc}.retry", f"{svc}.retry.{delay}s", f"{svc}.retry.{delay}s")
            )
        bindings.append(_binding(f"{svc}.dlx", f"{svc}.dlq", "#"))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


def build(passwords: dict[str, str] | None) -> dict[str, object]:
    """The definitions; users without a password (none can log in) when `passwords` is None."""
    users: list[dict[str, object]] = []
    for u in user_names():
        user: dict[str, object] = {"name": u}
        if passwords is not None:
            user |= {"password_hash": hash_password(passwords[u]), "hashing_algorithm": HASHING}
        user |= {"tags": ["administrator"] if u == ADMIN_USER else [], "limits": {}}
        users.append(user)
    permissions = all_permissions()
    return {
        "rabbit_version": "4.1.0",
        "rabbitmq_version": "4.1.0",
        "users": users,
        "vhosts": [{"name": VHOST, "metadata": {"description": "distsync", "tags": []}}],
        "permissions": permissions,
        "topic_permissions": topic_permissions(),
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        **topology(),
    }


K8S_HEADER = (
    "# Generated by deploy/rabbitmq/generate_definitions.py (same model as definitions.json);\n"
    "# tests/deploy checks they agree. Applied by the RabbitMQ Messaging Topology Operator.\n"
)


def _yaml_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def k8s_users() -> str:
    """RabbitMQ Messaging Topology Operator `User` objects; passwords come from Secrets."""
    docs = []
    for u in user_names():
        tags = "[administrator]" if u == ADMIN_USER else "[]"
        docs.append(
            f"---\napiVersion: rabbitmq.com/v1beta1\nkind: User\nmetadata:\n  name: {u}\n"
            f"spec:\n  rabbitmqClusterReference:\n    name: rabbitmq\n  tags: {tags}\n"
            '  # Secret with keys username and password (docs/deploy.md, "Secrets").\n'
            f"  importCredentialsSecret:\n    name: rabbitmq-user-{u}\n"
        )
    return K8S_HEADER + "".join(docs)


def k8s_permissions() -> str:
    """`Permission` objects, then the `TopicPermission` objects of topic_permissions()."""
    perms = all_permissions()
    docs = [
        f"---\napiVersion: rabbitmq.com/v1beta1\nkind: Permission\nmetadata:\n"
        f"  name: {p['user']}-{VHOST}\nspec:\n  vhost: {VHOST}\n  userReference:\n"
        f"    name: {p['user']}\n  permissions:\n"
        f"    configure: {_yaml_str(p['configure'])}\n    write: {_yaml_str(p['write'])}\n"
        f"    read: {_yaml_str(p['read'])}\n  rabbitmqClusterReference:\n    name: rabbitmq\n"
        for p in perms
    ]
    docs += [
        f"---\napiVersion: rabbitmq.com/v1beta1\nkind: TopicPermission\nmetadata:\n"
        f"  name: {t['user']}-{t['exchange']}-{VHOST}\nspec:\n  vhost: {VHOST}\n"
        f"  userReference:\n    name: {t['user']}\n  permissions:\n"
        f"    exchange: {t['exchange']}\n    write: {_yaml_str(t['write'])}\n"
        f"    read: {_yaml_str(t['read'])}\n  rabbitmqClusterReference:\n    name: rabbitmq\n"
        for t in topic_permissions()
    ]
    return K8S_HEADER + "".join(docs)


def write_with_hashes(path: Path, passwords: dict[str, str]) -> None:
    """A definitions file with password hashes, in a folder only its owner may enter. The file
    itself stays world-readable: RabbitMQ reads a bind-mounted file as its own uid."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps(build(passwords), indent=2) + "\n")
    path.chmod(0o644)


def main() -> int:
    """definitions.json without passwords and the Kubernetes users/permissions; or, given a
    path, a private definitions file with the hashes of the RABBITMQ_PASSWORD_* variables."""
    here = Path(__file__).parent
    if len(sys.argv) > 1:
        missing = [password_env(u) for u in user_names() if not os.environ.get(password_env(u))]
        if missing:
            print(f"set {', '.join(missing)} (or run deploy/init_secrets.py)", file=sys.stderr)
            return 2
        passwords = {u: os.environ[password_env(u)] for u in user_names()}
        write_with_hashes(Path(sys.argv[1]), passwords)
        print(f"wrote {sys.argv[1]}")
    else:
        out = here / "definitions.json"
        out.write_text(json.dumps(build(None), indent=2) + "\n")
        print(f"wrote {out}")
        k8s = here.parent / "k8s" / "base" / "rabbitmq"
        (k8s / "users.yaml").write_text(k8s_users())
        (k8s / "permissions.yaml").write_text(k8s_permissions())
        print(f"wrote {k8s}/users.yaml and permissions.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
