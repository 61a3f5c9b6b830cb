"""The Helm chart (deploy/helm/distsync) deploys the kustomize model, not a second copy of it.

Its files/ are generated from deploy/k8s (checked current); `helm template` with the values that
match overlays/prod renders exactly the objects of `kubectl kustomize overlays/prod`, less the
labels and hook annotations Helm adds; and the chart's values (per-service enable, replicas,
autoscaler, image tags, Secret names) reach the objects they name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/distsync"
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance")
Docs = dict[tuple[str, str], dict[str, Any]]


def run(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=240, check=False, env=env
    )


@pytest.fixture(scope="module")
def helm(find_tool: Callable[..., str]) -> str:
    return find_tool("helm/helm", name="helm")


def template(helm: str, *args: str) -> Docs:
    result = run(helm, "template", "distsync", str(CHART), "--namespace", "distsync", *args)
    assert result.returncode == 0, result.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc["metadata"]
    labels = {
        k: v
        for k, v in (meta.get("labels") or {}).items()
        if k not in HELM_LABELS and k != "app.kubernetes.io/part-of"
    }
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("helm.sh/")
    }
    meta = {k: v for k, v in meta.items() if k not in ("labels", "annotations")}
    meta |= {"labels": labels} if labels else {}
    meta |= {"annotations": annotations} if annotations else {}
    return {**doc, "metadata": meta}


def test_the_chart_files_are_the_current_kustomize_model(kubectl: str) -> None:
    result = run(
        sys.executable,
        "deploy/helm/generate_chart_files.py",
        "--check",
        env={**os.environ, "KUBECTL": kubectl},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_helm_template_equals_the_prod_overlay(helm: str, kubectl: str) -> None:
    rendered = run(kubectl, "kustomize", "deploy/k8s/overlays/prod")
    assert rendered.returncode == 0, rendered.stderr
    kustomized = {
        (d["kind"], d["metadata"]["name"]): d
        for d in yaml.safe_load_all(rendered.stdout)
        if d and d["kind"] != "Namespace"
    }
    charted = template(helm, "-f", str(CHART / "ci/keda-values.yaml"))
    assert sorted(charted) == sorted(kustomized)
    differ = [k for k in kustomized if normalised(charted[k]) != normalised(kustomized[k])]
    assert differ == [], differ


def test_values_reach_the_objects_they_name(helm: str) -> None:
    docs = template(
        helm,
        "--set",
        "autoscaling.mode=none,services.receipt.enabled=false,services.returns.replicas=4",
        "--set",
        "services.returns.tag=0.2.0,services.returns.secretName=vault-returns",
        "--set",
        "auth.apiKeysSecretName=vault-api-keys,webhooks.secretName=vault-webhooks",
        "--set",
        "rabbitmq.enabled=false,mongodb.image=mirror.example.com/mongo:8.0.13",
    )
    kinds = {k[0] for k in docs}
    assert not kinds & {"ScaledObject", "HorizontalPodAutoscaler", "RabbitmqCluster", "User"}
    assert ("Deployment", "receipt") not in docs and ("ServiceMonitor", "receipt") not in docs
    returns = docs[("Deployment", "returns")]
    pod = returns["spec"]["template"]["spec"]
    assert returns["spec"]["replicas"] == 4
    assert pod["containers"][0]["image"] == "registry.example.com/distsync/returns:0.2.0"
    refs = [r["secretRef"]["name"] for r in pod["containers"][0]["envFrom"] if "secretRef" in r]
    assert refs == ["vault-returns"]
    assert {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v} == {
        "vault-api-keys"
    }
    tracking = docs[("Deployment", "carrier-tracking")]["spec"]["template"]["spec"]
    assert "vault-webhooks" in [
        r["secretRef"]["name"] for r in tracking["containers"][0]["envFrom"] if "secretRef" in r
    ]
    assert docs[("StatefulSet", "mongodb")]["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == ("mirror.example.com/mongo:8.0.13")
    for job in (d for k, d in docs.items() if k[0] == "Job"):
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def test_the_chart_refuses_unknown_values(helm: str) -> None:
    result = run(helm, "template", "x", str(CHART), "--set", "services.returns.replicaz=3")
    assert result.returncode != 0
    assert "replicaz" in result.stderr


def test_hpa_values_render_hpas_and_the_gateway_route(helm: str) -> None:
    docs = template(helm, "-f", str(CHART / "ci/hpa-values.yaml"))
    hpas = sorted(k[1] for k in docs if k[0] == "HorizontalPodAutoscaler")
    assert hpas == ["availability", "carrier-tracking", "ingress", "order-status", "receipt"]
    assert ("HTTPRoute", "carrier-webhooks") in docs and ("Ingress", "carrier-webhooks") not in docs


def test_reconcile_values_reach_the_reconciliation_or_leave_it_out(helm: str) -> None:
    docs = template(
        helm,
        "--set",
        "reconcile.snapshot=/snapshots/stock.csv,reconcile.tag=0.3.0",
        "--set",
        "monitoring.runbookBaseURL=https://docs.example.com/",
    )
    config = docs[("ConfigMap", "reconcile-config")]["data"]
    assert config["DISTSYNC_RECONCILE_SNAPSHOT"] == "/snapshots/stock.csv"
    job = docs[("CronJob", "distsync-reconcile")]["spec"]["jobTemplate"]["spec"]["template"]
    assert job["spec"]["containers"][0]["image"] == "registry.example.com/distsync/tools:0.3.0"
    rules = docs[("PrometheusRule", "distsync-reconcile")]["spec"]["groups"][0]["rules"]
    assert rules[0]["annotations"]["runbook_url"].startswith("https://docs.example.com/docs/")
    assert ("ConfigMap", "grafana-dashboard-distsync-reconciliation") in docs
    without = template(helm, "--set", "reconcile.enabled=false")
    # the broker user `reconcile` (--publish-counts, run by hand) belongs to the RabbitMQ group
    broker = {"User", "Permission", "TopicPermission"}
    left = {
        k for k in without if k[0] not in broker and ("reconcil" in k[1] or "pushgateway" in k[1])
    }
    assert not left, left


def test_a_partition_count_reaches_the_service_the_topology_job_and_keda(helm: str) -> None:
    docs = template(helm, "--set", "services.returns.partitions=6,services.returns.maxReplicas=6")
    assert docs[("ConfigMap", "returns-config")]["data"]["DISTSYNC_PARTITIONS"] == "6"
    assert docs[("ConfigMap", "receipt-config")]["data"]["DISTSYNC_PARTITIONS"] == "12"
    assert "DISTSYNC_PARTITIONS" not in docs[("ConfigMap", "ingress-config")]["data"]
    args = docs[("Job", "distsync-topology")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["distsync", "topology", "apply"]
    assert "returns=6" in args and "receipt=12" in args and not any("ingress" in a for a in args)
    scaled = docs[("ScaledObject", "returns")]["spec"]
    queues = [t["metadata"]["queueName"] for t in scaled["triggers"]]
    assert queues == ["returns.main", *(f"returns.part.{i}" for i in range(6))]
    assert scaled["advanced"]["scalingModifiers"]["formula"] == " + ".join(
        t["name"] for t in scaled["triggers"]
    )
    assert all(t["authenticationRef"]["name"] == "keda-rabbitmq" for t in scaled["triggers"])


def test_the_chart_refuses_more_replicas_than_partitions(helm: str) -> None:
    result = run(helm, "template", "x", str(CHART), "--set", "services.receipt.partitions=4")
    assert result.returncode != 0
    assert "services.receipt.maxReplicas (12) exceeds services.receipt.partitions (4)" in (
        result.stderr
    )
    fixed = run(  # fixed replicas: no autoscaler maximum to exceed
        helm,
        "template",
        "x",
        str(CHART),
        "--set",
        "services.receipt.partitions=4,autoscaling.mode=none",
    )
    assert fixed.returncode == 0, fixed.stderr
    too_many = run(
        helm,
        "template",
        "x",
        str(CHART),
        "--set",
        "services.receipt.partitions=4,autoscaling.mode=none,services.receipt.replicas=5",
    )
    assert "services.receipt.replicas (5) exceeds services.receipt.partitions (4)" in (
        too_many.stderr
    )


def test_the_chart_refuses_partitions_the_topology_operator_objects_do_not_declare(
    helm: str,
) -> None:
    for count in ("6", "16"):
        result = run(
            helm,
            "template",
            "x",
            str(CHART),
            "--set",
            f"topology.operator=true,services.receipt.partitions={count}",
            "--set",
            "services.receipt.maxReplicas=6",
        )
        assert result.returncode != 0
        assert "differs from the topology operator's Queue objects" in result.stderr
    same = run(helm, "template", "x", str(CHART), "--set", "topology.operator=true")
    assert same.returncode == 0, same.stderr
