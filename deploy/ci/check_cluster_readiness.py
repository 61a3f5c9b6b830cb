"""What a real cluster would trip over although the schemas accept it (issue 23): rendered output.

Each rule is a function of the rendered documents returning its findings; tests/deploy feeds each
one a broken fixture (fixtures/broken-day-one-*.yaml) and the real overlays and chart renderings.

  keda        TriggerAuthentications use KEDA's own Secret (key host), never a service's AMQP_URL
  pull        --dev: no container is pulled Always (kind/minikube load images locally)
  netpol      every pod that runs (workloads and RabbitMQ's) is selected by a NetworkPolicy, and
              Erlang distribution (4369, 25672) is admitted from RabbitMQ pods only
  images      every image has a full version tag (x.y.z) or a digest, RabbitmqCluster's included
  webhooks    carrier-tracking gets its webhook Secret; whatever exposes it (Ingress, HTTPRoute)
              serves only /v1/webhooks/ and only over TLS
  monitoring  ServiceMonitors and PrometheusRules carry the release label, dashboards the
              sidecar's grafana_dashboard label
  alerts      every alert has a summary, a description and an http(s) runbook_url
  jobs        every Job is re-runnable under GitOps (Argo CD or Helm hook with a delete policy)
  partitions  a service with DISTSYNC_PARTITIONS = P > 1 (docs/deploy.md, "Partitions"): its
              autoscaler's maximum is at most P (a replica beyond P would hold no partition), KEDA
              sums the backlog of <svc>.main and every <svc>.part.<i>, and the topology (Job
              `--partitions`, or the operator's Queue objects) declares the same P partitions

Usage: check_cluster_readiness.py [--dev] FILE [FILE ...]   exits 1 on any finding.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
WEBHOOK_PREFIX = "/v1/webhooks/"
FULL_TAG = re.compile(r"^[^:@]+(:v?\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
LOCAL_BUILD = re.compile(r"^distsync/[a-z-]+:dev$")
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


def _name(d: Doc) -> str:
    return f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"


def _of(docs: list[Doc], *kinds: str) -> Iterator[Doc]:
    return (d for d in docs if d.get("kind") in kinds)


def _containers(d: Doc) -> list[Doc]:
    spec = d["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _labels(d: Doc) -> dict[str, str]:
    return (d.get("metadata") or {}).get("labels") or {}


def keda(docs: list[Doc]) -> list[str]:
    service_secrets = {
        ref["secretRef"]["name"]
        for d in _of(docs, "Deployment")
        for c in _containers(d)
        for ref in c.get("envFrom", [])
        if "secretRef" in ref
    }
    out = []
    for d in _of(docs, "TriggerAuthentication"):
        for ref in d["spec"].get("secretTargetRef", []):
            if ref.get("name") in service_secrets or ref.get("key") == "AMQP_URL":
                out.append(
                    f"{_name(d)}: uses {ref.get('name')}/{ref.get('key')}, a service's connection "
                    "(short host, resolved in KEDA's namespace); use KEDA's own Secret"
                )
    return out


def pull(docs: list[Doc]) -> list[str]:
    return [
        f"{_name(d)}: container {c['name']} is pulled Always; locally loaded images never start"
        for d in _of(docs, *WORKLOADS)
        for c in _containers(d)
        if c.get("imagePullPolicy", "IfNotPresent") == "Always"
    ]


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    match = policy["spec"].get("podSelector", {}).get("matchLabels", {})
    return all(labels.get(k) == v for k, v in match.items())


def netpol(docs: list[Doc]) -> list[str]:
    policies = [
        p for p in _of(docs, "NetworkPolicy") if "Ingress" in p["spec"].get("policyTypes", [])
    ]
    pods = [(d, d["spec"]["template"]["metadata"].get("labels", {})) for d in _of(docs, *WORKLOADS)]
    # The Cluster Operator labels RabbitMQ's pods with the cluster's name.
    pods += [
        (d, {"app.kubernetes.io/name": d["metadata"]["name"]}) for d in _of(docs, "RabbitmqCluster")
    ]
    out = [
        f"{_name(d)}: no NetworkPolicy selects its pods"
        for d, lb in pods
        if not any(_selects(p, lb) for p in policies)
    ]
    for cluster in _of(docs, "RabbitmqCluster"):
        own = {"app.kubernetes.io/name": cluster["metadata"]["name"]}
        for p in (p for p in policies if _selects(p, own)):
            for rule in p["spec"].get("ingress", []):
                ports = {str(x.get("port")) for x in rule.get("ports", [])}
                peers = rule.get("from", [])
                if (not ports or ports & {"4369", "25672"}) and (
                    not peers
                    or any(x.get("podSelector", {}).get("matchLabels") != own for x in peers)
                ):
                    out.append(
                        f"{_name(p)}: Erlang distribution (4369, 25672) open beyond "
                        "RabbitMQ's own pods"
                    )
    return out


def images(docs: list[Doc], local_builds: bool = False) -> list[str]:
    """With local_builds (dev), distsync's own images built on the machine (distsync/<name>:dev)
    are exempt: only third-party images must be pinned there."""
    found = [(d, c["image"]) for d in _of(docs, *WORKLOADS) for c in _containers(d)]
    if local_builds:
        found = [(d, i) for d, i in found if not LOCAL_BUILD.match(i)]
    found += [(d, d["spec"].get("image", "")) for d in _of(docs, "RabbitmqCluster")]
    return [
        f"{_name(d)}: image {image or '(operator default)'} floats; pin a full version or a digest"
        for d, image in found
        if not image
        or not FULL_TAG.match(image)
        or (":" not in image.rsplit("/", 1)[-1] and "@" not in image)
    ]


def webhooks(docs: list[Doc]) -> list[str]:
    out = []
    for d in (d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "carrier-tracking"):
        refs = {
            r["secretRef"]["name"]
            for c in _containers(d)
            for r in c.get("envFrom", [])
            if "secretRef" in r
        }
        if not any("webhook" in r for r in refs):
            out.append(f"{_name(d)}: no Secret provides DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS")
    for d in _of(docs, "Ingress"):
        if not d["spec"].get("tls"):
            out.append(f"{_name(d)}: no TLS")
        for rule in d["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                if not path.get("path", "/").startswith(WEBHOOK_PREFIX):
                    out.append(
                        f"{_name(d)}: exposes {path.get('path', '/')}, not only {WEBHOOK_PREFIX}"
                    )
    for d in _of(docs, "HTTPRoute"):
        if any(not p.get("sectionName") for p in d["spec"].get("parentRefs", [])):
            out.append(f"{_name(d)}: attached to every listener of its Gateway, not its HTTPS one")
        for rule in d["spec"].get("rules", []):
            matches = rule.get("matches") or [{}]
            for m in matches:
                path = (m.get("path") or {}).get("value", "/")
                if not path.startswith(WEBHOOK_PREFIX) or m.get("method") != "POST":
                    out.append(
                        f"{_name(d)}: routes {m.get('method', 'any method')} {path}, "
                        f"not only POST {WEBHOOK_PREFIX}"
                    )
    return out


def monitoring(docs: list[Doc]) -> list[str]:
    out = [
        f"{_name(d)}: no release label (kube-prometheus-stack selects on it)"
        for d in _of(docs, "ServiceMonitor", "PrometheusRule")
        if "release" not in _labels(d)
    ]
    dashboards = [
        d for d in _of(docs, "ConfigMap") if d["metadata"]["name"].startswith("grafana-dashboard-")
    ]
    out += [
        f"{_name(d)}: no grafana_dashboard label (Grafana's sidecar)"
        for d in dashboards
        if "grafana_dashboard" not in _labels(d)
    ]
    return out


def alerts(docs: list[Doc]) -> list[str]:
    out = []
    for d in _of(docs, "PrometheusRule"):
        for group in d["spec"]["groups"]:
            for rule in (r for r in group["rules"] if "alert" in r):
                ann = rule.get("annotations", {})
                for key in ("summary", "description"):
                    if not ann.get(key):
                        out.append(f"{_name(d)}: alert {rule['alert']} has no {key}")
                if not re.match(r"^https?://", ann.get("runbook_url", "")):
                    out.append(
                        f"{_name(d)}: alert {rule['alert']} runbook_url "
                        f"{ann.get('runbook_url')!r} is not a URL"
                    )
    return out


def jobs(docs: list[Doc]) -> list[str]:
    out = []
    for d in _of(docs, "Job"):
        ann = d["metadata"].get("annotations") or {}
        argo = ann.get("argocd.argoproj.io/hook") and ann.get(
            "argocd.argoproj.io/hook-delete-policy"
        )
        helm = ann.get("helm.sh/hook") and ann.get("helm.sh/hook-delete-policy")
        if not (argo or helm):
            out.append(
                f"{_name(d)}: immutable Job without a hook and delete policy; a second apply fails"
            )
    return out


def _partitions_of(docs: list[Doc]) -> dict[str, int]:
    """Deployment name -> the DISTSYNC_PARTITIONS its container reads (env, then ConfigMaps)."""
    maps = {d["metadata"]["name"]: d.get("data") or {} for d in _of(docs, "ConfigMap")}
    out = {}
    for d in _of(docs, "Deployment"):
        value = "1"
        for c in _containers(d):
            for ref in c.get("envFrom", []):
                name = (ref.get("configMapRef") or {}).get("name")
                value = maps.get(name, {}).get("DISTSYNC_PARTITIONS", value)
            for env in c.get("env", []):
                if env.get("name") == "DISTSYNC_PARTITIONS" and "value" in env:
                    value = env["value"]
        out[d["metadata"]["name"]] = int(value)
    return out


def _declared_partitions(job: Doc) -> tuple[int, dict[str, int]]:
    """What `distsync topology apply` declares: (DISTSYNC_PARTITIONS, --partitions SVC=N)."""
    default, named = 1, {}
    for c in _containers(job):
        args = [*c.get("command", []), *c.get("args", [])]
        for flag, value in itertools.pairwise(args):
            if flag == "--partitions":
                svc, _, n = value.partition("=")
                named[svc] = int(n)
        for env in c.get("env", []):
            if env.get("name") == "DISTSYNC_PARTITIONS":
                default = int(env["value"])
    return default, named


def _keda_partitions(d: Doc, svc: str, count: int) -> list[str]:
    triggers = [t for t in d["spec"].get("triggers", []) if t.get("type") == "rabbitmq"]
    read = {t.get("metadata", {}).get("queueName") for t in triggers}
    wanted = [f"{svc}.main", *(f"{svc}.part.{i}" for i in range(count))]
    out = [f"{_name(d)}: does not read {q}'s backlog" for q in wanted if q not in read]
    formula = ((d["spec"].get("advanced") or {}).get("scalingModifiers") or {}).get("formula", "")
    terms = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula))
    if len(triggers) > 1 and not all(t.get("name") in terms for t in triggers):
        out.append(
            f"{_name(d)}: its queue triggers are not summed (scalingModifiers.formula); the HPA "
            "would follow the longest queue alone"
        )
    return out


def partitions(docs: list[Doc]) -> list[str]:
    counts = _partitions_of(docs)
    out = []
    for d in _of(docs, "ScaledObject", "HorizontalPodAutoscaler"):
        svc = d["spec"]["scaleTargetRef"]["name"]
        count = counts.get(svc, 1)
        if count <= 1:
            continue
        keda = d["kind"] == "ScaledObject"
        key = "maxReplicaCount" if keda else "maxReplicas"
        most = int(d["spec"].get(key, 100 if keda else 1))  # KEDA's default maximum is 100
        if most > count:
            out.append(
                f"{_name(d)}: {key} {most} > DISTSYNC_PARTITIONS {count} of Deployment/{svc} "
                "(the replicas beyond it would hold no partition)"
            )
        if keda:
            out += _keda_partitions(d, svc, count)
    for job in (j for j in _of(docs, "Job") if j["metadata"]["name"] == "distsync-topology"):
        default, named = _declared_partitions(job)
        for svc, count in counts.items():
            declared = named.get(svc, default)
            if (count > 1 or svc in named) and declared != count:
                out.append(
                    f"{_name(job)}: declares {declared} partitions of {svc}, whose Deployment "
                    f"consumes {count}"
                )
    queues = {q["spec"].get("name") for q in _of(docs, "Queue")}
    if queues:
        for svc, count in counts.items():
            missing = [f"{svc}.part.{i}" for i in range(count) if count > 1]
            missing = [q for q in missing if q not in queues]
            if missing:
                out.append(f"Deployment/{svc}: no Queue object declares {', '.join(missing)}")
    return out


RULES: dict[str, Callable[[list[Doc]], list[str]]] = {
    "keda": keda,
    "netpol": netpol,
    "images": images,
    "webhooks": webhooks,
    "monitoring": monitoring,
    "alerts": alerts,
    "jobs": jobs,
    "partitions": partitions,
}


def check(docs: list[Doc], dev: bool = False) -> list[str]:
    rules = (
        {**RULES, "pull": pull, "images": lambda d: images(d, local_builds=True)} if dev else RULES
    )
    return [f"[{name}] {finding}" for name, rule in rules.items() for finding in rule(docs)]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dev", action="store_true", help="also the dev overlay's rules (pull)")
    p.add_argument("files", nargs="+", type=Path)
    args = p.parse_args(argv[1:])
    rc = 0
    for path in args.files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        findings = check(docs, dev=args.dev)
        for f in findings:
            print(f"ERROR {path.name}: {f}")
        print(f"{path.name}: {len(docs)} resources, {len(findings)} findings")
        rc |= 1 if findings else 0
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
