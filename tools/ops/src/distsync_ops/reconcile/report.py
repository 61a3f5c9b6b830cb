"""What the reconciliation prints: a table for people, a JSON document for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from distsync_ops.reconcile.quantities import fmt_units, iso
from distsync_ops.reconcile.tally import KeyResult, LocationTotals, Tally


def stock_summary(t: Tally, *, snapshot: str, as_of: datetime | None) -> dict[str, Any]:
    """The run as JSON (`--json`), and what `record` stores."""
    locs = sorted(t.locations.values(), key=lambda x: (-x.absolute, x.location))
    return {
        "kind": "stock",
        "ok": t.ok(),
        "snapshot": snapshot,
        "as_of": iso(as_of),
        "rows": t.rows,
        "bad_rows": t.bad_count,
        "keys": t.keys,
        "keys_with_variance": sum(x.keys_with_variance for x in locs),
        "keys_beyond_tolerance": sum(x.keys_beyond_tolerance for x in locs),
        "not_comparable": t.not_comparable(),
        "tolerance": t.tolerance / 1_000_000,
        "tolerance_rate": t.tolerance_rate,
        "locations": [x.to_dict() for x in locs],
        "largest": [r.to_dict() for r in t.top()],
        "bad": [b.to_dict() for b in sorted(t.bad, key=lambda b: b.line)],
    }


def _rate(x: LocationTotals) -> str:
    r = x.rate
    return "inf" if r is None else f"{100 * r:.2f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header), *(fmt.format(*r) for r in rows)]


def _v(r: KeyResult) -> str:
    v = r.variance
    if v is None:
        return f"n/a ({r.unknown})"
    return ("+" if v > 0 else "") + fmt_units(v)


def stock_text(t: Tally) -> str:
    lines: list[str] = []
    verdict = "within tolerance" if t.ok() else "BEYOND TOLERANCE"
    lines.append(
        f"{t.rows:,} rows, {t.keys:,} keys compared, {t.bad_count:,} bad rows, "
        f"{t.not_comparable():,} not comparable: {verdict}"
    )
    locs = sorted(t.locations.values(), key=lambda x: (-x.absolute, x.location))
    lines.append("")
    lines += _table(
        ["location", "keys", "snapshot", "distsync", "net", "|variance|", "rate", "beyond"],
        [
            [
                x.location,
                f"{x.keys:,}",
                fmt_units(x.snapshot),
                fmt_units(x.distsync),
                fmt_units(x.net),
                fmt_units(x.absolute),
                _rate(x),
                f"{x.keys_beyond_tolerance:,}",
            ]
            for x in locs
        ],
    )
    top = t.top()
    if top:
        lines += ["", "largest variances (variance = snapshot - distsync, base units):"]
        lines += _table(
            ["sku", "location", "line", "snapshot", "distsync", "variance", "quarantined"],
            [
                [
                    r.sku,
                    r.location,
                    "-" if r.line is None else str(r.line),
                    fmt_units(r.snapshot),
                    "n/a" if r.distsync is None else fmt_units(r.distsync),
                    _v(r),
                    "" if r.q_variance is None else fmt_units(r.q_variance),
                ]
                for r in top
            ],
        )
    if t.bad:
        lines += ["", f"bad rows ({t.bad_count:,}; first {len(t.bad):,} shown):"]
        lines += [f"  line {b.line}: {b.reason}" for b in sorted(t.bad, key=lambda b: b.line)]
    return "\n".join(lines)
