"""The simulation report: one JSON-able dict, and how it reads as text and Markdown."""

from __future__ import annotations

import json
from typing import Any


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def latency_summary(xs: list[float]) -> dict[str, Any]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    return {
        "samples": len(xs),
        "p50_ms": ms(pct(xs, 50)),
        "p95_ms": ms(pct(xs, 95)),
        "p99_ms": ms(pct(xs, 99)),
        "max_ms": ms(max(xs) if xs else None),
    }


def _lat(d: dict[str, Any]) -> str:
    if not d.get("samples"):
        return "no samples"
    return (
        f"p50 {d['p50_ms']:.0f} ms, p95 {d['p95_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms, "
        f"max {d['max_ms']:.0f} ms ({d['samples']} samples)"
    )


def _cmp_line(name: str, c: dict[str, Any], what: str) -> str:
    line = f"  {name:<17}{c['compared']:>8} compared, {c['wrong']:>4} {what} wrong"
    if c.get("skipped"):
        line += f", {c['skipped']} skipped"
    return line


def _scale(config: dict[str, Any]) -> str:
    """Replicas and partitions, when the run asked for more than one of either."""
    reps = ", ".join(f"{s} x{n}" for s, n in (config.get("replicas") or {}).items() if n > 1)
    parts = config.get("partitions") or 1
    return (f"; replicas {reps}" if reps else "") + (f"; {parts} partitions" if parts > 1 else "")


def render_text(r: dict[str, Any]) -> str:
    out = [
        f"distsync simulate: {'OK' if r['ok'] else 'FAILED'}",
        f"  command          {r['command']}",
        f"  mode             {r['mode']}; seed {r['seed']}; {r['config']['skus']} SKUs; "
        f"locations {', '.join(r['config']['locations'])}{_scale(r['config'])}",
    ]
    e = r["events"]
    out.append(
        f"  published        {e['business']} business events ({e['bootstrap']} go-live), "
        f"{e['duplicates']} duplicates, {e['bad']} bad messages, {e['overtaken']} delivered "
        f"out of order"
    )
    t = r["timing"]
    out.append(
        f"  time             go-live {t['bootstrap_s']:.1f} s; then published "
        f"{e['business'] - e['bootstrap']} events in {t['publish_s']:.1f} s "
        f"({t['publish_rate']:.0f} events/s), "
        f"drained {t['drain_s']:.1f} s later; all processed after {t['processing_s']:.1f} s: "
        f"{t['throughput']:.0f} events/s"
    )
    for c in r.get("chaos", []):
        out.append(f"  chaos            {c['summary']}")
    cmp = r["compare"]
    out.append("results")
    names = {
        "positions": "positions",
        "orders": "orders",
        "shipments": "shipments",
        "purchase_orders": "purchase orders",
        "returns": "returns (RMAs)",
    }
    for key, label in names.items():
        if key in cmp:
            what = "positions" if key == "positions" else "statuses"
            out.append(_cmp_line(label, cmp[key], what))
    rc = r.get("reconcile")
    if rc:
        out.append(
            f"  reconciliation   snapshot of {rc['rows']} rows, {rc['injected']} drifts injected "
            f"(+{rc['negative_in_truth']} negative in truth), {rc['found']} variances found; "
            f"{len(rc['missing'])} missed, {len(rc['invented'])} invented, "
            f"{len(rc['wrong_size'])} of the wrong size"
        )
    d = r["dlq"]
    out.append(
        f"  dead letters     {d['found']} found, {d['expected']} expected (injected), "
        f"{d['missing']} missing, {d['wrong_reason']} with a wrong reason, "
        f"{d['unexpected']} unexpected"
    )
    ev = r["integrity"]
    out.append(
        f"  events           {ev['lost']} lost, {ev['applied_twice']} applied twice "
        f"({ev['method']})"
    )
    lat = r["latency"]
    out.append(
        "visibility latency, live operation (event time at the source -> seen on the service "
        "exchange; the go-live bulk load apart)"
    )
    for k in (
        "availability.changed",
        "order.status_changed",
        "all",
        "outside_chaos",
        "from_publish",
        "go_live",
        "with_go_live",
    ):
        if k in lat:
            out.append(f"  {k:<23}{_lat(lat[k])}")
    if r.get("services"):
        out.append("services (counted since each one's last start)")
    for name, st in (r.get("services") or {}).items():
        c = st["consumed"]
        per = st.get("handler_s_per_message")
        out.append(
            f"  {name:<17}applied {c.get('applied', 0)}, duplicates {c.get('duplicate', 0)}, "
            f"dead-lettered {c.get('dead_lettered', 0)}, retried {c.get('retried', 0)}; "
            f"avg batch {st.get('avg_batch')}, "
            f"{'-' if per is None else f'{per * 1000:.1f}'} ms/message, "
            f"txn retries {st.get('transaction_retries') or 0}"
        )
    if r.get("rss_mb"):
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items())
        out.append(f"peak RSS (MB)      {rss}")
    problems = r.get("problems") or []
    if problems:
        out.append("problems")
        out.extend(f"  - {p}" for p in problems)
    for key in names:
        diffs = cmp.get(key, {}).get("diffs") or []
        if diffs:
            out.append(f"first differences in {key}:")
            out.extend(f"  {json.dumps(x, default=str)[:400]}" for x in diffs[:8])
    for x in (d.get("details") or [])[:10]:
        out.append(f"  dlq: {json.dumps(x, default=str)[:300]}")
    if r.get("workdir"):
        out.append(f"logs and data kept in {r['workdir']}")
    return "\n".join(out)


def render_markdown(r: dict[str, Any]) -> str:
    head = [
        "# Simulation report",
        "",
        f"Produced by `{r['command']}` on {r['started_at']} ({r['machine']}).",
        "",
        "```text",
        render_text(r),
        "```",
        "",
        "<details><summary>Full report (JSON)</summary>",
        "",
        "```json",
        json.dumps(r, indent=2, default=str),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(head)
