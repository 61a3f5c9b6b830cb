"""Dashboards and alert rules use only metrics that exist, and their generated copies are current.

Every metric name in a dashboard panel or an alerting/recording rule must be exported by the
running services (their `/metrics`), be one of RabbitMQ's plugin metrics that the scrape config
requests, Prometheus' own `up`, or a recording rule defined in the rules file.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.settings import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "distsync-rules.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
OBSERVABILITY_DOC = ROOT / "docs" / "observability.md"

# RabbitMQ's own metrics (rabbitmq_prometheus plugin, /metrics/detailed), by the metric family
# the scrape config must request for them.
RABBITMQ_METRICS = {
    "rabbitmq_detailed_queue_messages": "queue_coarse_metrics",
    "rabbitmq_detailed_queue_consumers": "queue_consumer_count",
}
PROMETHEUS_METRICS = {"up"}  # written by Prometheus for every scrape target
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_observability", ROOT / "scripts" / "gen_observability.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


gen = load_generator()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if s[m.end() :].lstrip().startswith("(") or m.group() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def exposed_names(text: str) -> set[str]:
    """Names in a Prometheus text exposition, including families that have no sample yet."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            names.add(name)
            if kind in ("histogram", "summary"):
                names |= {f"{name}_count", f"{name}_sum"} | (
                    {f"{name}_bucket"} if kind == "histogram" else set()
                )
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def used_names() -> dict[str, set[str]]:
    """Metric name -> where it is used."""
    used: dict[str, set[str]] = {}
    for dashboard, panel, expr in gen.panel_expressions():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(f"{dashboard}: {panel}")
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"rule {rule.get('alert') or rule.get('record')}")
    return used


def test_metric_names_are_read_from_promql_without_functions_labels_or_keywords():
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(distsync_event_lag_seconds_bucket{service=~"a|b"}[5m])))'
        " / on (vhost) group_left max(rabbitmq_detailed_queue_messages offset 1h) > bool 1e3"
        " or time() - distsync:dlq_nonempty_since_timestamp_seconds"
    )
    assert metric_names(expr) == {
        "distsync_event_lag_seconds_bucket",
        "rabbitmq_detailed_queue_messages",
        "distsync:dlq_nonempty_since_timestamp_seconds",
    }


def test_exposition_names_include_histogram_series_of_families_without_samples():
    text = (
        "# HELP distsync_x_seconds x\n# TYPE distsync_x_seconds histogram\n"
        "# HELP distsync_y_total y\n# TYPE distsync_y_total counter\n"
        'distsync_z{le="1.0"} 0.0\n'
    )
    assert exposed_names(text) == {
        "distsync_x_seconds",
        "distsync_x_seconds_bucket",
        "distsync_x_seconds_count",
        "distsync_x_seconds_sum",
        "distsync_y_total",
        "distsync_z",
    }


@pytest.mark.e2e
async def test_every_metric_in_dashboards_and_rules_is_exported_by_the_services(cluster):
    running = await cluster.start(*DEFAULT_PORTS)
    exported: set[str] = set()
    for r in running.values():
        async with httpx.AsyncClient(base_url=r.url, timeout=10) as c:
            resp = await c.get("/metrics")
        assert resp.status_code == 200, r.name
        exported |= exposed_names(resp.text)
    assert "distsync_service_up" in exported
    recorded = {r["record"] for r in rules() if "record" in r}
    allowed = exported | recorded | set(RABBITMQ_METRICS) | PROMETHEUS_METRICS
    unknown = {name: sorted(where) for name, where in used_names().items() if name not in allowed}
    assert not unknown, "metrics nobody exports:\n" + "\n".join(
        f"  {n}: {w}" for n, w in sorted(unknown.items())
    )


def test_rabbitmq_metrics_used_are_the_families_prometheus_scrapes():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    families = {
        family
        for job in config["scrape_configs"]
        if job.get("metrics_path") == "/metrics/detailed"
        for family in job.get("params", {}).get("family", [])
    }
    rabbit_used = {n for n in used_names() if n.startswith("rabbitmq_")}
    assert rabbit_used <= set(RABBITMQ_METRICS)
    for name in rabbit_used:
        assert RABBITMQ_METRICS[name] in families, f"{name} needs family {RABBITMQ_METRICS[name]}"


def test_generated_dashboards_and_prometheus_rule_are_current():
    stale = [
        str(path.relative_to(ROOT))
        for path, text in gen.outputs().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run `python scripts/gen_observability.py`: {stale}"


def test_the_prometheus_rule_carries_exactly_the_groups_of_the_rules_file():
    manifest = yaml.safe_load(
        (ROOT / "deploy/k8s/base/observability/prometheusrule.yaml").read_text()
    )
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def github_anchors(markdown: str) -> set[str]:
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_has_a_severity_a_summary_and_a_runbook_that_exists():
    alerts = [r for r in rules() if "alert" in r]
    assert len({a["alert"] for a in alerts}) >= 15
    anchors = github_anchors(OBSERVABILITY_DOC.read_text())
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path).exists() or path == "docs/runbook-dlq.md", alert["alert"]
        if path == "docs/observability.md":
            assert anchor in anchors, f"{alert['alert']}: no heading for #{anchor} in {path}"


def test_every_dashboard_panel_has_a_query_a_unique_id_and_fits_the_grid():
    for name, doc in gen.dashboards().items():
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)), name
        for p in doc["panels"]:
            assert 0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, (
                name,
                p["title"],
            )
            if p["type"] != "row":
                assert p["targets"] and all(t["expr"] for t in p["targets"]), (name, p["title"])
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
