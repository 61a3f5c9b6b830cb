"""A service cannot be half-deployed: image, Kubernetes, queue, users and compose all exist and agree.

`service` is every folder under services/ (conftest), so a new service fails here until it has
all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from shared.service import SERVICE_NAMES, SERVICE_PACKAGES
from shared.settings import DEFAULT_PORTS
from shared.topology import all_services

# the one list of services (shared/service.py): every deploy file must agree with it
EXPECTED = sorted(SERVICE_NAMES)
PORTS = DEFAULT_PORTS
# Services that consume no route (the ingress: it publishes what callers send). Their main queue
# stays empty, so queue depth cannot drive their scaling: KEDA scales them on CPU.
PUBLISH_ONLY = frozenset(s.name for s in all_services() if not s.routes)
# HTTP ports a service calls besides the broker, the database and DNS: the ingress reads
# availability's API for the 846 inventory advice.
EXTRA_EGRESS: dict[str, list[int]] = {"ingress": [DEFAULT_PORTS["availability"]]}


def _env(service: str, suffix: str) -> str:
    return suffix + service.upper().replace("-", "_")


def _db(service: str) -> str:
    return "distsync_" + service.replace("-", "_")


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def _final_stage(dockerfile: str) -> str:
    return dockerfile[dockerfile.rindex("\nFROM ") :]


def test_the_services_folder_holds_the_services_of_the_table_with_their_packages(
    root: Path,
) -> None:
    found = sorted(p.parent.name for p in (root / "services").glob("*/pyproject.toml"))
    assert found == EXPECTED
    for name, package in SERVICE_PACKAGES.items():
        assert (root / "services" / name / "src" / package / "__init__.py").is_file(), name


def test_service_has_a_multi_stage_non_root_image_built_from_the_lock(
    service: str, dockerfile_of: Callable[..., str]
) -> None:
    text = dockerfile_of(service, PORTS[service])
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3, "uv, builder and runtime stages"
    assert f"uv sync --frozen --no-dev --no-editable --package distsync-{service}" in text
    final = _final_stage(text)
    assert final.startswith("\nFROM python:3.11-slim")
    assert "USER 10001:10001" in final
    assert re.search(r"HEALTHCHECK .*\n?.*urllib.*/healthz", final)
    assert f"DISTSYNC_SERVICE={service}" in final
    assert 'CMD ["/bin/sh", "-c", "exec distsync run \\"$DISTSYNC_SERVICE\\""]' in final
    assert f"DISTSYNC_HTTP_PORT={PORTS[service]}" in final
    # Nothing from the build toolchain reaches the final image: only the venv is copied.
    assert "uv" not in re.findall(r"COPY --from=(\S+)", final)
    assert re.findall(r"^COPY .*", final, re.M) == ["COPY --from=builder /app/.venv /app/.venv"]
    assert not re.search(r"apt-get|pip install|gcc|build-essential", final)


def test_service_has_a_hardened_deployment_with_probes(root: Path, service: str) -> None:
    folder = root / "deploy/k8s/base" / service
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs = [
        d for f in kustomization["resources"] for d in yaml.safe_load_all((folder / f).read_text())
    ]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        ]
    )
    deployment = _find(docs, "Deployment", service)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"distsync/{service}:dev"
    assert container["args"] == ["distsync", "run", service]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == PORTS[service]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    # Drains within DISTSYNC_SHUTDOWN_GRACE_S (25 s) after a 5 s preStop pause.
    assert pod["terminationGracePeriodSeconds"] >= 5 + 25 + 5
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
    config = _find(docs, "ConfigMap", f"{service}-config")["data"]
    assert config["DISTSYNC_HTTP_PORT"] == str(PORTS[service])
    assert config["DISTSYNC_DECLARE_TOPOLOGY"] == "false"
    assert config["DISTSYNC_MONGODB_DB"] == _db(service)
    assert {"configMapRef": {"name": f"{service}-config"}} in container["envFrom"]
    assert {"secretRef": {"name": f"{service}-secrets"}} in container["envFrom"]
    assert _find(docs, "ServiceAccount", service)["automountServiceAccountToken"] is False
    base = yaml.safe_load((root / "deploy/k8s/base/kustomization.yaml").read_text())
    assert service in base["resources"]


def test_service_network_policy_allows_only_http_in_and_broker_database_dns_out(
    root: Path, service: str
) -> None:
    policy = yaml.safe_load((root / "deploy/k8s/base" / service / "networkpolicy.yaml").read_text())
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert [p["port"] for rule in spec["ingress"] for p in rule["ports"]] == ["http"]
    out_ports = sorted(p["port"] for rule in spec["egress"] for p in rule["ports"])
    assert out_ports == sorted([53, 53, 5671, 5672, 27017, *EXTRA_EGRESS.get(service, [])])


def test_a_service_that_calls_another_is_let_in_by_the_other(root: Path) -> None:
    """An egress rule to another service's pods is useless unless that service admits them."""
    for caller, ports in EXTRA_EGRESS.items():
        for port in ports:
            (callee,) = [name for name, p in PORTS.items() if p == port]
            path = root / "deploy/k8s/base" / callee / "networkpolicy.yaml"
            sources = [
                src
                for rule in yaml.safe_load(path.read_text())["spec"]["ingress"]
                for src in rule["from"]
            ]
            assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": caller}}} in sources


def test_service_scales_on_its_own_queue_with_keda_and_on_cpu_without(
    k8s_base: list[dict[str, Any]], service: str
) -> None:
    scaled = _find(k8s_base, "ScaledObject", service)
    assert scaled["spec"]["scaleTargetRef"]["name"] == service
    triggers = scaled["spec"]["triggers"]
    if service in PUBLISH_ONLY:
        # nothing arrives on its queue: KEDA's cpu scaler, like the HPA without KEDA
        (trigger,) = triggers
        assert trigger == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
        assert scaled["spec"]["minReplicaCount"] >= 1  # the cpu scaler cannot scale to zero
    else:
        # its queue and its partitions (docs/deploy.md, "Partitions"), their backlogs summed
        config = _find(k8s_base, "ConfigMap", f"{service}-config")["data"]
        count = int(config.get("DISTSYNC_PARTITIONS", "1"))
        queues = [
            f"{service}.main",
            *(f"{service}.part.{i}" for i in range(count if count > 1 else 0)),
        ]
        assert [t["metadata"]["queueName"] for t in triggers] == queues
        for trigger in triggers:
            _assert_queue_trigger(k8s_base, service, trigger)
        formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
        assert formula.split(" + ") == [t["name"] for t in triggers]
        if count > 1:  # a replica beyond the partitions would hold none
            assert scaled["spec"]["maxReplicaCount"] <= count
            hpa = _find(k8s_base, "HorizontalPodAutoscaler", service)
            assert hpa["spec"]["maxReplicas"] <= count
    hpa = _find(k8s_base, "HorizontalPodAutoscaler", service)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service,
    }
    monitor = _find(k8s_base, "ServiceMonitor", service)
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def _assert_queue_trigger(
    k8s_base: list[dict[str, Any]], service: str, trigger: dict[str, Any]
) -> None:
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["protocol"] == "amqp"  # KEDA's user reads depths, nothing else
    assert trigger["metadata"]["queueName"].startswith(f"{service}.")
    auth = _find(k8s_base, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    # KEDA's own Secret (fully qualified host, read-only user), never the service's AMQP_URL
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "keda-rabbitmq", "key": "host"}
    ]


def test_service_has_its_queues_and_exchanges_in_the_definitions(
    definitions: dict[str, Any], service: str
) -> None:
    queues = {q["name"]: q["arguments"] for q in definitions["queues"]}
    main = queues[f"{service}.main"]
    assert main["x-queue-type"] == "quorum"
    assert main["x-dead-letter-exchange"] == f"{service}.dlx"
    assert main["x-dead-letter-strategy"] == "at-least-once"
    assert main["x-overflow"] == "reject-publish"
    assert isinstance(main["x-delivery-limit"], int)
    assert queues[f"{service}.dlq"]["x-queue-type"] == "quorum"
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    for delay in (1, 10, 60):
        name = f"{service}.retry.{delay}s"
        retry = queues[name]
        assert retry["x-message-ttl"] == delay * 1000
        assert retry["x-dead-letter-exchange"] == ""
        assert retry["x-dead-letter-routing-key"] == f"{service}.main"
        assert (f"{service}.retry", name, name) in bindings
    exchanges = {e["name"]: e["type"] for e in definitions["exchanges"]}
    assert exchanges[f"{service}.events"] == "topic"
    assert exchanges[f"{service}.dlx"] == "fanout"
    assert exchanges[f"{service}.retry"] == "direct"


def test_service_has_its_own_rabbitmq_user_in_compose_and_kubernetes(
    definitions: dict[str, Any], k8s_base: list[dict[str, Any]], service: str
) -> None:
    assert service in {u["name"] for u in definitions["users"]}
    assert service in {p["user"] for p in definitions["permissions"]}
    user = _find(k8s_base, "User", service)
    assert user["spec"]["importCredentialsSecret"]["name"] == f"rabbitmq-user-{service}"
    _find(k8s_base, "Permission", f"{service}-distsync")


def test_service_has_its_own_mongodb_user_with_read_write_on_its_database_only(
    root: Path,
    compose: dict[str, Any],
    model: ModuleType,
    init_secrets: ModuleType,
    service: str,
) -> None:
    script = (root / "deploy/mongodb/init-mongodb.js").read_text()
    listed = re.search(r"const SERVICES = \[(.*?)\];", script)
    assert listed is not None
    assert f'"{service}"' in listed.group(1)
    assert 'roles = [{ role: "readWrite", db: dbName }]' in script
    init_env = compose["services"]["mongodb-init"]["environment"]
    assert _env(service, "MONGO_PASSWORD_") in init_env
    dev = yaml.safe_load((root / "deploy/k8s/overlays/dev/kustomization.yaml").read_text())
    generated = {s["name"]: s["envs"] for s in dev["secretGenerator"]}
    assert generated[f"{service}-secrets"] == [f"secrets/{service}-secrets.env"]
    secrets = init_secrets.dev_secret_files(init_secrets.required(model), model)
    assert _env(service, "MONGO_PASSWORD_") in secrets["mongodb-users"]
    urls = secrets[f"{service}-secrets"]
    assert urls["MONGODB_URL"].startswith(f"mongodb://{service}:")
    assert f"/{_db(service)}?replicaSet=rs0&authSource={_db(service)}" in urls["MONGODB_URL"]
    assert urls["AMQP_URL"].startswith(f"amqp://{service}:")
    assert urls["AMQP_URL"].endswith("@rabbitmq:5672/distsync")


def test_service_runs_in_compose_with_its_own_users_and_no_topology_rights(
    compose: dict[str, Any], service: str
) -> None:
    spec = compose["services"][service]
    assert spec["build"] == {
        "context": ".",
        "dockerfile": "deploy/docker/service.Dockerfile",
        "args": {"SERVICE": service, "PORT": str(PORTS[service])},
    }
    env = spec["environment"]
    assert env["DISTSYNC_HTTP_PORT"] == str(PORTS[service])
    assert env["DISTSYNC_DECLARE_TOPOLOGY"] == "false"
    assert env["AMQP_URL"].startswith(f"amqp://{service}:${{RABBITMQ_PASSWORD_")
    assert env["AMQP_URL"].endswith("@rabbitmq:5672/distsync")
    assert env["MONGODB_URL"].startswith(f"mongodb://{service}:${{MONGO_PASSWORD_")
    assert f"authSource={_db(service)}" in env["MONGODB_URL"]
    assert spec["depends_on"]["topology"]["condition"] == "service_completed_successfully"
    assert spec["depends_on"]["mongodb-init"]["condition"] == "service_completed_successfully"
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert spec["ports"] == [f"127.0.0.1:{PORTS[service]}:{PORTS[service]}"]


def test_service_is_scraped_by_prometheus(root: Path, service: str) -> None:
    config = yaml.safe_load((root / "deploy/prometheus/prometheus.yml").read_text())
    targets = [
        t
        for job in config["scrape_configs"]
        for sc in job.get("static_configs", [])
        for t in sc["targets"]
    ]
    assert f"{service}:{PORTS[service]}" in targets


def test_compose_takes_every_password_from_the_generated_secrets_and_defaults_none(
    compose: dict[str, Any], model: ModuleType
) -> None:
    urls = [s.get("environment", {}).get("AMQP_URL", "") for s in compose["services"].values()]
    checked = 0
    for url in filter(None, urls):
        m = re.match(r"amqp://([^:]+):\$\{(\w+):\?([^}]+)\}@", url)
        assert m, url
        user, env_name, message = m.groups()
        assert env_name == model.password_env(user)
        assert "deploy/init_secrets.py" in message
        checked += 1
    # the services, the topology step, the DLQ API (admin) and the reconciliation (its own user)
    assert checked == len(SERVICE_NAMES) + 3
    volumes = compose["services"]["rabbitmq"]["volumes"]
    (definitions,) = [v for v in volumes if isinstance(v, dict)]
    assert definitions["source"] == "./.secrets/rabbitmq-definitions.json"
    assert definitions["bind"]["create_host_path"] is False


def test_every_compose_variable_is_documented_and_only_settings_have_defaults(
    root: Path, model: ModuleType, init_secrets: ModuleType
) -> None:
    compose_text = (root / "docker-compose.yml").read_text()
    defaults = dict(re.findall(r"\$\{(\w+):-((?:[^{}]|\{[^{}]*\})*)\}", compose_text))
    required = set(re.findall(r"\$\{(\w+):\?[^}]*\}", compose_text))
    example = dict(
        line.split("=", 1)
        for line in (root / "deploy/compose/env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    # every default is a documented setting with the same value, and no secret has one
    assert set(defaults) == {k for k, v in example.items() if v}
    assert {"DISTSYNC_REGISTRY", "DISTSYNC_TAG", "RABBITMQ_IMAGE", "MONGO_IMAGE"} <= set(defaults)
    assert defaults == {k: v for k, v in example.items() if k in defaults}
    generated = init_secrets.required(model)
    # every secret is generated and listed without a value; compose requires those it uses
    # (the publishing systems' and KEDA's passwords only reach RabbitMQ, through the definitions
    # file; the API keys reach the services as hashes, through .secrets/api-keys.json; MongoDB's
    # root and Grafana's admin password as compose secrets, files the images read with *_FILE)
    assert {k for k, v in example.items() if not v} == set(generated)
    assert required <= set(generated)
    # (a service that calls another's API holds a key of its own: compose passes that one)
    held = {c for keys in init_secrets.SERVICE_API_KEYS.values() for c in keys.values()}
    assert {init_secrets.api_key_env(c) for c in held} <= required
    assert set(generated) - required == {
        *(model.password_env(u) for u in (*model.INGRESS, model.MONITOR_USER)),
        *(init_secrets.api_key_env(c) for c in init_secrets.API_CLIENTS if c not in held),
        "MONGO_ROOT_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    }
    secrets = yaml.safe_load(compose_text)["secrets"]
    assert secrets["mongodb-root-password"] == {"environment": "MONGO_ROOT_PASSWORD"}
    assert secrets["grafana-admin-password"] == {"environment": "GRAFANA_ADMIN_PASSWORD"}
    assert secrets["distsync-api-keys"] == {"file": "./.secrets/api-keys.json"}
    # mongod accepts only base64 characters (6 to 1024 of them) in a keyfile.
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", generated["MONGO_KEYFILE"])


def test_compose_secrets_reach_containers_only_through_the_environment(root: Path) -> None:
    for dockerfile in [
        root / "deploy/docker/service.Dockerfile",
        root / "deploy/docker/tools.Dockerfile",
    ]:
        text = dockerfile.read_text()
        assert "PASSWORD" not in text.upper().replace("PASSWORD_HASH", "")
        assert "AMQP_URL" not in text and "MONGODB_URL" not in text
