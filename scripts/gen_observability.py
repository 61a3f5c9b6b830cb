"""Writes the Grafana dashboards and their Kubernetes manifests, and the PrometheusRule.

    python scripts/gen_observability.py          write every generated file
    python scripts/gen_observability.py --check  exit 1 if a committed file is out of date
    python scripts/gen_observability.py --expressions-rule-file
                                                 every panel's PromQL as a rule file (for promtool)

Sources: the panels below (every expression uses only metrics the services export, RabbitMQ's
plugin metrics `rabbitmq_detailed_*`, Prometheus' `up`, or the recording rules of
deploy/prometheus/rules/distsync-rules.yml; tests/contracts/test_dashboards.py checks that) and
that rules file. Outputs: deploy/grafana/dashboards/*.json (docker compose provisions them),
copies in deploy/k8s/base/observability/dashboards/ (its kustomization turns them into
ConfigMaps for Grafana's dashboard sidecar) and deploy/k8s/base/observability/prometheusrule.yaml.
Standard library only.
"""

# ruff: noqa: E501  (the panel table below is data: PromQL and descriptions read better unwrapped)
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
K8S = ROOT / "deploy" / "k8s" / "base" / "observability"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "distsync-rules.yml"
MAX_YAML_LINE = 150  # deploy/.yamllint
DS = {"type": "prometheus", "uid": "${datasource}"}
SVC = 'service=~"$service"'
RMQ = "RabbitMQ metric (rabbitmq_prometheus plugin, /metrics/detailed)."


@dataclass
class P:
    """One panel: a title, PromQL targets as (expr, legend), a unit and a width out of 24."""

    title: str
    targets: list[tuple[str, str]]
    unit: str = "short"
    w: int = 12
    kind: str = "timeseries"
    description: str = ""
    h: int = 8
    stack: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    title: str
    panels: list[P]


def q(
    quantile: float, metric: str, by: str, selector: str = "", window: str = "$__rate_interval"
) -> str:
    sel = "{" + selector + "}" if selector else ""
    return f"histogram_quantile({quantile}, sum by ({by}) (rate({metric}_bucket{sel}[{window}])))"


def ratio(num: str, den: str) -> str:
    return f"({num}) / ({den})"


def status_inc(status: str, window: str = "24h") -> str:
    return f'sum(increase(distsync_order_status_changes_total{{status="{status}"}}[{window}]))'


MILESTONES = "distsync_order_status_milestone_latency_seconds"
# The end-to-end pairs of the milestone histogram; the others are consecutive stages.
END_TO_END = ("received_to_shipped", "received_to_delivered")
STAGES = 'milestone!~"' + "|".join(END_TO_END) + '"'
RESOLUTION = "distsync_order_status_exception_resolution_seconds"


def stage_mean(window: str = "24h") -> str:
    m, sel = MILESTONES, "{" + STAGES + "}"
    return f"sum by (milestone) (increase({m}_sum{sel}[{window}])) / sum by (milestone) (increase({m}_count{sel}[{window}]))"


def units_inc(kind: str, window: str = "24h") -> str:
    return f'sum(increase(distsync_order_status_units_total{{kind="{kind}"}}[{window}]))'


VARIANCE = "distsync_availability_count_variance_units"
LE_ZERO = '"0(\\\\.0)?"'  # prometheus_client writes le="0.0"; Prometheus 3 may normalise it
LOC = 'location=~"$location"'
ZERO_VARIANCE = f"sum by (location) (increase({VARIANCE}_bucket{{{LOC}, le=~{LE_ZERO}}}[24h]))"


OPERATIONS = [
    Row(
        "Throughput",
        [
            P(
                "Messages applied per second, by service and type",
                [
                    (
                        f'sum by (service, type) (rate(distsync_messages_consumed_total{{{SVC}, outcome="applied"}}[$__rate_interval]))',
                        "{{service}} {{type}}",
                    )
                ],
                "ops",
                stack=True,
            ),
            P(
                "Events published per second, by service and type",
                [
                    (
                        f'sum by (service, type) (rate(distsync_messages_published_total{{{SVC}, outcome="confirmed"}}[$__rate_interval]))',
                        "{{service}} {{type}}",
                    )
                ],
                "ops",
                stack=True,
            ),
            P(
                "Messages taken from the queues, by outcome",
                [
                    (
                        f"sum by (service, outcome) (rate(distsync_messages_consumed_total{{{SVC}}}[$__rate_interval]))",
                        "{{service}} {{outcome}}",
                    )
                ],
                "ops",
                description="applied, duplicate (the inbox absorbed a redelivery), retried, dead_lettered.",
            ),
            P(
                "Committed batch size (average)",
                [
                    (
                        ratio(
                            f"sum by (service) (rate(distsync_batch_messages_sum{{{SVC}}}[$__rate_interval]))",
                            f"sum by (service) (rate(distsync_batch_messages_count{{{SVC}}}[$__rate_interval]))",
                        ),
                        "{{service}}",
                    )
                ],
            ),
        ],
    ),
    Row(
        "Failures and dead letters",
        [
            P(
                "Failed transactions per second, by service and kind",
                [
                    (
                        f"sum by (service, kind) (rate(distsync_messages_failed_total{{{SVC}}}[$__rate_interval]))",
                        "{{service}} {{kind}}",
                    )
                ],
                "ops",
                description="handler_error is retried; malformed, too_large, not_cloudevent, out_of_range, unknown_type, schema_invalid, contract_violation, outgoing_event_invalid, rejected and exhausted go to the DLQ.",
            ),
            P(
                "Dead-lettered per second, by service and kind",
                [
                    (
                        f"sum by (service, kind) (rate(distsync_dlq_published_total{{{SVC}}}[$__rate_interval]))",
                        "{{service}} {{kind}}",
                    )
                ],
                "ops",
            ),
            P(
                "DLQ depth",
                [
                    (
                        'max by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"})',
                        "{{queue}}",
                    )
                ],
                description=RMQ,
                w=8,
            ),
            P(
                "Oldest message in each DLQ",
                [
                    (
                        f"max by (service) (distsync_dlq_oldest_message_age_seconds{{{SVC}}})",
                        "{{service}}.dlq",
                    )
                ],
                "s",
                w=8,
                description="How long the message at the head of each service's DLQ has waited since it was dead-lettered (its last-failure-time); 0 when the DLQ is empty. Each service reads its own DLQ's head every 30 s.",
            ),
            P(
                "Unrouted messages",
                [('max(rabbitmq_detailed_queue_messages{queue="unrouted"})', "unrouted")],
                w=8,
                description=RMQ + " Ingress messages whose routing key no service is bound to.",
            ),
            P(
                "Transaction retries per second",
                [
                    (
                        f"sum by (service, reason) (rate(distsync_transaction_retries_total{{{SVC}}}[$__rate_interval]))",
                        "{{service}} {{reason}}",
                    )
                ],
                "ops",
                description="Write conflicts between replicas (conflict) and database outages (unavailable), retried in process.",
            ),
            P(
                "Unroutable or refused publishes per second",
                [
                    (
                        f'sum by (service, type, outcome) (rate(distsync_messages_published_total{{{SVC}, outcome!="confirmed"}}[$__rate_interval]))',
                        "{{service}} {{type}} {{outcome}}",
                    )
                ],
                "ops",
            ),
        ],
    ),
    Row(
        "Queues and outbox",
        [
            P(
                "Queue depth (consumer lag)",
                [
                    (
                        'max by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.(main|retry\\\\..+)"})',
                        "{{queue}}",
                    )
                ],
                description=RMQ,
            ),
            P(
                "Consumers per service queue",
                [
                    (
                        'max by (queue) (rabbitmq_detailed_queue_consumers{queue=~".+\\\\.main"})',
                        "{{queue}}",
                    )
                ],
                description=RMQ,
            ),
            P(
                "Outbox backlog (events not yet confirmed)",
                [(f"max by (service) (distsync_outbox_backlog{{{SVC}}})", "{{service}}")],
                w=6,
            ),
            P(
                "Oldest unsent outbox event",
                [(f"max by (service) (distsync_outbox_oldest_seconds{{{SVC}}})", "{{service}}")],
                "s",
                w=6,
            ),
            P(
                "Outbox write to broker confirm (p95)",
                [(q(0.95, "distsync_outbox_delivery_seconds", "service, le", SVC), "{{service}}")],
                "s",
                w=6,
            ),
            P(
                "Outbox events moved aside",
                [
                    (
                        f"sum by (service) (increase(distsync_outbox_events_moved_aside_total{{{SVC}}}[$__rate_interval]))",
                        "{{service}}",
                    )
                ],
                w=6,
                description="Committed events the relay could not publish (the broker cannot take them, or they break the service's contract): dead-lettered to <service>.dlq with failure-kind unpublishable.",
            ),
            P(
                "Handler time per message (p95)",
                [(q(0.95, "distsync_handler_seconds", "service, le", SVC), "{{service}}")],
                "s",
            ),
            P(
                "Event-time lag, event time to commit (p95)",
                [(q(0.95, "distsync_event_lag_seconds", "service, le", SVC), "{{service}}")],
                "s",
            ),
        ],
    ),
    Row(
        "Health",
        [
            P(
                "Scrape targets up",
                [(f"sum by (service) (up{{{SVC}}})", "{{service}}")],
                kind="stat",
                w=6,
            ),
            P(
                "Replicas running",
                [(f"sum by (service) (distsync_service_up{{{SVC}}})", "{{service}}")],
                kind="stat",
                w=6,
            ),
            P(
                "Connected to RabbitMQ",
                [(f"min by (service) (distsync_broker_connected{{{SVC}}})", "{{service}}")],
                kind="stat",
                w=6,
            ),
            P(
                "Outbox relay leaseholders",
                [(f"sum by (service) (distsync_outbox_relay_leader{{{SVC}}})", "{{service}}")],
                kind="stat",
                w=6,
                description="Exactly one replica per service holds the relay lease.",
            ),
        ],
    ),
    Row(
        "Ingress (HTTP, files, EDI)",
        [
            P(
                "Events accepted per second, by source system and channel",
                [
                    (
                        'sum by (source, channel) (rate(distsync_ingress_events_total{outcome="accepted"}[$__rate_interval]))',
                        "{{source}} {{channel}}",
                    )
                ],
                "ops",
                stack=True,
                description="Published with a broker confirm. A repeated id is counted as duplicate, not here.",
            ),
            P(
                "Events refused per second, by source system and reason",
                [
                    (
                        'sum by (source, reason) (rate(distsync_ingress_events_total{outcome=~"refused|failed"}[$__rate_interval]))',
                        "{{source}} {{reason}}",
                    )
                ],
                "ops",
                stack=True,
                description="refused: the caller got 400/403/422 with the reason (schema, unknown type, a source it may not publish as); failed: the broker did not confirm.",
            ),
            P(
                "Admitted to confirmed, p99 by channel",
                [(q(0.99, "distsync_ingress_publish_seconds", "channel, le"), "{{channel}}")],
                "s",
            ),
            P(
                "Files read in the last hour, by kind and outcome",
                [
                    (
                        "sum by (kind, outcome) (increase(distsync_ingress_files_total[1h]))",
                        "{{kind}} {{outcome}}",
                    )
                ],
                "short",
                description="done: every row accepted; partial: some rows refused (see the file's report); failed: unreadable or nothing accepted.",
            ),
        ],
    ),
]

LATENCY = [
    Row(
        "Inventory synchronisation",
        [
            P(
                "Event time to availability change",
                [
                    (q(0.5, "distsync_event_lag_seconds", "le", 'service="availability"'), "p50"),
                    (q(0.95, "distsync_event_lag_seconds", "le", 'service="availability"'), "p95"),
                    (q(0.99, "distsync_event_lag_seconds", "le", 'service="availability"'), "p99"),
                ],
                "s",
                description="From the event's time at its source (WMS, ERP, receipt, returns) to the commit of the new position.",
            ),
            P(
                "Event time to availability change by event type (p95)",
                [
                    (
                        q(0.95, "distsync_event_lag_seconds", "type, le", 'service="availability"'),
                        "{{type}}",
                    )
                ],
                "s",
            ),
        ],
    ),
    Row(
        "Orders and shipments",
        [
            P(
                "Order milestone latency (p50)",
                [
                    (
                        q(0.5, MILESTONES, "milestone, le", STAGES, "1h"),
                        "{{milestone}}",
                    )
                ],
                "s",
                description="Event time between milestones, measured once per order: received_to_allocated, allocated_to_picked, picked_to_shipped, shipped_to_delivered.",
            ),
            P(
                "Order milestone latency (p90)",
                [
                    (
                        q(0.9, MILESTONES, "milestone, le", STAGES, "1h"),
                        "{{milestone}}",
                    )
                ],
                "s",
            ),
            P(
                "Order cycle time, received to shipped and to delivered (p50, p90, p99)",
                [
                    (q(qq, MILESTONES, "milestone, le", f'milestone="{ms}"', "6h"), f"{ms} p{pc}")
                    for ms in END_TO_END
                    for qq, pc in ((0.5, 50), (0.9, 90), (0.99, 99))
                ],
                "s",
                w=24,
                description="Event time from an order's first status (received) to shipped and to delivered, measured once per order.",
            ),
            P(
                "Shipment status latency, carrier scan to order status (p50, p95)",
                [
                    (
                        q(
                            0.5,
                            "distsync_event_lag_seconds",
                            "le",
                            'service="order-status", type="shipment.tracking_updated"',
                        ),
                        "p50",
                    ),
                    (
                        q(
                            0.95,
                            "distsync_event_lag_seconds",
                            "le",
                            'service="order-status", type="shipment.tracking_updated"',
                        ),
                        "p95",
                    ),
                ],
                "s",
                description="shipment.tracking_updated carries the scan's time, so this is scan to order-status commit.",
            ),
            P(
                "Carrier scan to tracking update (p95), by event type",
                [
                    (
                        q(
                            0.95,
                            "distsync_event_lag_seconds",
                            "type, le",
                            'service="carrier-tracking"',
                        ),
                        "{{type}}",
                    )
                ],
                "s",
            ),
            P(
                "Shipped to delivered, by carrier (p50)",
                [
                    (
                        q(
                            0.5,
                            "distsync_carrier_tracking_shipped_to_delivered_seconds",
                            "carrier, le",
                            "",
                            "24h",
                        ),
                        "{{carrier}}",
                    )
                ],
                "s",
            ),
            P(
                "Return receipt to inspection (p50, p90)",
                [
                    (
                        q(0.5, "distsync_returns_receipt_to_inspection_seconds", "le", "", "24h"),
                        "p50",
                    ),
                    (
                        q(0.9, "distsync_returns_receipt_to_inspection_seconds", "le", "", "24h"),
                        "p90",
                    ),
                ],
                "s",
            ),
        ],
    ),
    Row(
        "Inbound",
        [
            P(
                "Receipts more than a day after their ASN's expected date",
                [
                    (
                        '1 - sum(increase(distsync_receipt_asn_to_receipt_seconds_bucket{le=~"86400(\\\\.0)?"}[24h]))'
                        ' / sum(increase(distsync_receipt_asn_to_receipt_seconds_bucket{le="+Inf"}[24h]))',
                        "late",
                    )
                ],
                "percentunit",
                w=24,
            ),
        ],
    ),
]

BUSINESS = [
    Row(
        "Inventory accuracy",
        [
            P(
                "Inventory variance by location (average units off per count, 24h)",
                [
                    (
                        ratio(
                            f"sum by (location) (increase({VARIANCE}_sum{{{LOC}}}[24h]))",
                            f"sum by (location) (increase({VARIANCE}_count{{{LOC}}}[24h]))",
                        ),
                        "{{location}}",
                    )
                ],
                description="Absolute difference between a cycle count and the on-hand expected at its time.",
            ),
            P(
                "Cycle counts with a variance, by location (24h)",
                [
                    (
                        "1 - "
                        + ratio(
                            ZERO_VARIANCE,
                            f"sum by (location) (increase({VARIANCE}_count{{{LOC}}}[24h]))",
                        ),
                        "{{location}}",
                    )
                ],
                "percentunit",
            ),
            P(
                "Cycle counts off by more than 25 units (24h)",
                [
                    (
                        f'sum by (location) (increase({VARIANCE}_count{{{LOC}}}[24h])) - sum by (location) (increase({VARIANCE}_bucket{{{LOC}, le=~"25(\\\\.0)?"}}[24h]))',
                        "{{location}}",
                    )
                ],
            ),
            P(
                "Allocations beyond available-to-sell (24h)",
                [
                    (
                        f"sum by (location) (increase(distsync_availability_oversell_attempts_total{{{LOC}}}[24h]))",
                        "{{location}}",
                    )
                ],
            ),
        ],
    ),
    Row(
        "Order fulfilment",
        [
            P(
                "Orders reaching each status per hour",
                [
                    (
                        "sum by (status) (increase(distsync_order_status_changes_total[1h]))",
                        "{{status}}",
                    )
                ],
                stack=True,
                w=24,
            ),
            P(
                "Order cycle time, received to delivered (24h, p50, p90)",
                [
                    (
                        q(qq, MILESTONES, "le", 'milestone="received_to_delivered"', "24h"),
                        f"p{pc}",
                    )
                    for qq, pc in ((0.5, 50), (0.9, 90))
                ],
                "s",
                kind="stat",
                w=6,
                description="Event time from received to delivered (every ordered unit delivered), measured once per order.",
            ),
            P(
                "Order fill rate, units (24h)",
                [(ratio(units_inc("shipped"), units_inc("ordered")), "fill rate")],
                "percentunit",
                kind="stat",
                w=6,
                description="Units shipped per unit ordered (order.created lines; a shipment counts once).",
            ),
            P(
                "Backorder rate, units (24h)",
                [(ratio(units_inc("backordered"), units_inc("ordered")), "backorder rate")],
                "percentunit",
                kind="stat",
                w=6,
                description="Units backordered (order.backordered lines) per unit ordered.",
            ),
            P(
                "Completion rate, delivered / received (24h)",
                [(ratio(status_inc("delivered"), status_inc("received")), "completion")],
                "percentunit",
                kind="stat",
                w=6,
            ),
            P(
                "Mean time per order stage (24h)",
                [(stage_mean(), "{{milestone}}")],
                "s",
                w=12,
            ),
            P(
                "Cancelled and partially shipped per received order (24h)",
                [
                    (ratio(status_inc("cancelled"), status_inc("received")), "cancelled"),
                    (
                        ratio(status_inc("partially_shipped"), status_inc("received")),
                        "partially shipped",
                    ),
                ],
                "percentunit",
                w=12,
            ),
        ],
    ),
    Row(
        "Exceptions",
        [
            P(
                "Orders in exception now",
                [("max(distsync_order_status_orders_in_exception)", "orders")],
                kind="stat",
                w=6,
            ),
            P(
                "Order exceptions raised per hour, by source",
                [
                    (
                        "sum by (source) (increase(distsync_order_status_exceptions_total[1h]))",
                        "{{source}}",
                    )
                ],
                w=9,
            ),
            P(
                "Receipt exceptions per day, by kind",
                [("sum by (kind) (increase(distsync_receipt_exceptions_total[24h]))", "{{kind}}")],
                w=9,
            ),
            P(
                "Oldest order in exception",
                [("max(distsync_order_status_oldest_exception_seconds)", "oldest")],
                "s",
                kind="stat",
                w=6,
                description="Time since the order longest in exception entered it (event time of the report that put it there); 0 when none is.",
            ),
            P(
                "Open receipt exceptions, by kind",
                [("max by (kind) (distsync_receipt_open_exceptions)", "{{kind}}")],
                w=9,
                description="Exceptions stored for purchase orders still open (open or partially_received): what buyers still have to settle.",
            ),
            P(
                "Oldest open receipt exception, by kind",
                [("max by (kind) (distsync_receipt_oldest_open_exception_seconds)", "{{kind}}")],
                "s",
                w=9,
                description="Time since the oldest of those exceptions was raised (the receipt's event time at the WMS); 0 when a kind has none.",
            ),
            P(
                "Unmapped statuses and codes per hour",
                [
                    (
                        "sum by (source) (increase(distsync_order_status_unmapped_native_statuses_total[1h]))",
                        "order status from {{source}}",
                    ),
                    (
                        "sum by (carrier) (increase(distsync_carrier_tracking_unmapped_codes_total[1h]))",
                        "tracking code from {{carrier}}",
                    ),
                ],
            ),
            P(
                "Return receipts not covered by the authorization, per day",
                [("sum by (kind) (increase(distsync_returns_flags_total[24h]))", "{{kind}}")],
            ),
            P(
                "Order exception resolution time, by source (24h, p50, p90)",
                [
                    (q(qq, RESOLUTION, "source, le", "", "24h"), f"{{{{source}}}} p{pc}")
                    for qq, pc in ((0.5, 50), (0.9, 90))
                ],
                "s",
                w=24,
                description="Event time from an order entering exception to the milestone that cleared it, by the source that reported the exception.",
            ),
        ],
    ),
    Row(
        "Integration health",
        [
            P(
                "Integration failure rate, by service",
                [
                    (
                        ratio(
                            "sum by (service) (rate(distsync_messages_failed_total[1h]))",
                            "sum by (service) (rate(distsync_messages_consumed_total[1h]))",
                        ),
                        "{{service}}",
                    )
                ],
                "percentunit",
                description="Failed handling attempts (retried or dead-lettered) per message taken from the queue.",
            ),
            P(
                "Dead-lettered per day, by service",
                [("sum by (service) (increase(distsync_dlq_published_total[24h]))", "{{service}}")],
            ),
            P(
                "Carrier webhook pushes refused per hour",
                [
                    (
                        "sum by (carrier, reason) (increase(distsync_carrier_tracking_webhook_signature_failures_total[1h]))",
                        "{{carrier}} {{reason}}",
                    )
                ],
            ),
            P(
                "Inventory synchronisation latency (p95, 1h)",
                [
                    (
                        q(0.95, "distsync_event_lag_seconds", "le", 'service="availability"', "1h"),
                        "event to availability",
                    )
                ],
                "s",
                kind="stat",
                w=6,
            ),
            P(
                "Shipment status latency (p95, 1h)",
                [
                    (
                        q(
                            0.95,
                            "distsync_event_lag_seconds",
                            "le",
                            'service="order-status", type="shipment.tracking_updated"',
                            "1h",
                        ),
                        "scan to order status",
                    )
                ],
                "s",
                kind="stat",
                w=6,
            ),
        ],
    ),
]


def _variable_service() -> dict[str, Any]:
    return {
        "name": "service",
        "label": "service",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(distsync_service_up, service)", "refId": "service"},
        "definition": "label_values(distsync_service_up, service)",
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _variable_location() -> dict[str, Any]:
    q_ = f"label_values({VARIANCE}_count, location)"
    return {
        "name": "location",
        "label": "location",
        "type": "query",
        "datasource": DS,
        "query": {"query": q_, "refId": "location"},
        "definition": q_,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _panel(p: P, pid: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DS,
            "expr": expr,
            "legendFormat": legend,
            "range": True,
        }
        for i, (expr, legend) in enumerate(p.targets)
    ]
    custom: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if p.kind == "timeseries":
        custom = {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}
        if p.stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
        options = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    return {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": DS,
        "gridPos": {"h": p.h, "w": p.w, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": p.unit, "custom": custom}, "overrides": []},
        "options": options,
        **p.extra,
    }


def dashboard(
    uid: str, title: str, description: str, rows: list[Row], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for row in rows:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y, x, row_h = pid + 1, y + 1, 0, 0
        for p in row.panels:
            if x + p.w > 24:
                x, y, row_h = 0, y + row_h, 0
            panels.append(_panel(p, pid, x, y))
            pid, x, row_h = pid + 1, x + p.w, max(row_h, p.h)
        y += row_h
    datasource_var = {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": True, "text": "Prometheus", "value": "prometheus"},
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["distsync"],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": [datasource_var, *variables]},
        "annotations": {"list": []},
        "links": [
            {
                "title": "distsync dashboards",
                "type": "dashboards",
                "tags": ["distsync"],
                "asDropdown": True,
            }
        ],
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        "distsync-operations.json": dashboard(
            "distsync-operations",
            "distsync / Operations",
            "Throughput, failures, dead letters, queues, outbox and health of the six services; the ingress.",
            OPERATIONS,
            [_variable_service()],
        ),
        "distsync-latency.json": dashboard(
            "distsync-latency",
            "distsync / Latency",
            "Where time goes: event time to availability, order milestones, carrier scans, inbound.",
            LATENCY,
            [],
        ),
        "distsync-business.json": dashboard(
            "distsync-business",
            "distsync / Business",
            "Inventory accuracy, order fulfilment, exceptions and integration health.",
            BUSINESS,
            [_variable_location()],
        ),
    }


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def prometheus_rule(rules_text: str) -> str:
    """The rules file's groups as a PrometheusRule, kept verbatim (comments included)."""
    lines = rules_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = "".join(f"  {line}\n" if line else "\n" for line in lines[start:])
    return (
        "# Generated by scripts/gen_observability.py from deploy/prometheus/rules/distsync-rules.yml:\n"
        "# do not edit. The Prometheus Operator's ruleSelector must match these labels.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: distsync\n"
        "  labels:\n"
        "    app.kubernetes.io/name: distsync-rules\n"
        "    role: alert-rules\n"
        "spec:\n" + body
    )


def outputs() -> dict[Path, str]:
    files = {name: render_json(doc) for name, doc in dashboards().items()}
    out = {DASHBOARDS / name: text for name, text in files.items()}
    # kustomize reads files only below its own folder: the ConfigMaps get copies.
    out.update({K8S / "dashboards" / name: text for name, text in files.items()})
    out[K8S / "prometheusrule.yaml"] = prometheus_rule(RULES.read_text(encoding="utf-8"))
    for path, text in out.items():
        if path.suffix == ".yaml":
            long = [n + 1 for n, line in enumerate(text.splitlines()) if len(line) > MAX_YAML_LINE]
            if long:
                raise SystemExit(
                    f"{path.name}: lines {long} longer than {MAX_YAML_LINE} (yamllint)"
                )
    return out


# Grafana's variables, replaced by plausible values so that promtool can parse each expression.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$service": ".*",
    "$location": ".*",
}


def panel_expressions() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title and refId, PromQL with variables substituted) of every target."""
    out = []
    for name, doc in dashboards().items():
        for panel in doc["panels"]:
            for t in panel.get("targets", []):
                expr = t["expr"]
                for var, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(var, value)
                out.append((name, f"{panel['title']} [{t['refId']}]", expr))
    return out


def expressions_rule_file() -> str:
    """Every panel expression as a recording rule (JSON is YAML): `promtool check rules` parses them."""
    rules = [
        {
            "record": f"dashboard:expr_{i}",
            "expr": expr,
            "labels": {"dashboard": name.removesuffix(".json")},
        }
        for i, (name, _, expr) in enumerate(panel_expressions())
    ]
    return (
        json.dumps({"groups": [{"name": "dashboard-expressions", "rules": rules}]}, indent=2) + "\n"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--expressions-rule-file"]:
        sys.stdout.write(expressions_rule_file())
        return 0
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(
            "out of date (run python scripts/gen_observability.py):",
            *stale,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
