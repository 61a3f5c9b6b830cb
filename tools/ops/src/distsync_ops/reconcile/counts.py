"""Confirmed stock variances as `inventory.counted` events, in two reviewed steps.

1. `distsync reconcile stock SNAPSHOT --plan FILE --requested-by A` writes the plan: one
   count per key whose on-hand variance is beyond the tolerance (and comparable), nothing
   published. The plan is JSON lines: a header, one line per count, and a trailer holding a
   SHA-256 digest of everything before it, so an edited plan is refused.
2. After review, `distsync reconcile stock --publish-counts --plan FILE --source NAME
   --approved-by B` publishes exactly that plan, B being someone other than A, with publisher
   confirms. Each event's id is derived from the plan's digest and the key, so publishing the
   same plan again (after a failure half-way) is absorbed by availability's idempotency.

The approval is a named second person on the command line; binding it to the DLQ admin API's
approval store (issue #22) is left to that integration (docs/reconciliation.md).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from distsync_ops.reconcile.quantities import fmt_units, iso, parse_time
from distsync_ops.reconcile.rows import InputError
from distsync_ops.reconcile.tally import KeyResult

PLAN_KIND = "distsync.reconcile.count-plan"
EXCHANGE = "wms.events"
TYPE = "inventory.counted"
MAX_COUNT = 1e9  # contract §10: quantities from outside systems
_NS = uuid.UUID("5b8e3f0e-3c55-4f0c-9a57-2f5f1d6c0d26")


class PlanWriter:
    """Streams the plan as the reconciliation finds its counts."""

    def __init__(self, path: Path, *, requested_by: str, snapshot: str, tolerance: int) -> None:
        self.path = path
        self._fh: IO[str] = open(path, "w", encoding="utf-8")
        self._hash = hashlib.sha256()
        self.count = 0
        self._line(
            {
                "kind": PLAN_KIND,
                "version": 1,
                "created_at": iso(datetime.now(UTC)),
                "requested_by": requested_by,
                "snapshot": snapshot,
                "tolerance": fmt_units(tolerance),
            }
        )
        self.tolerance = tolerance

    def _line(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"
        self._hash.update(text.encode())
        self._fh.write(text)

    def consider(self, r: KeyResult) -> None:
        v = r.variance
        if v is None or abs(v) <= self.tolerance:
            return
        self.count += 1
        self._line(
            {
                "sku": r.sku,
                "location": r.location,
                "counted_qty": fmt_units(r.snapshot),
                "as_of": iso(r.as_of),
                "distsync_qty": fmt_units(r.distsync or 0),
                "variance": fmt_units(v),
                "line": r.line,
            }
        )

    def abort(self) -> None:
        """A run that failed leaves no plan behind: a partial one must not look complete."""
        self._fh.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> str:
        digest = self._hash.hexdigest()
        self._fh.write(json.dumps({"counts": self.count, "sha256": digest}) + "\n")
        self._fh.close()
        return digest


@dataclass(frozen=True)
class Plan:
    header: dict[str, Any]
    counts: list[dict[str, Any]]
    digest: str

    @property
    def requested_by(self) -> str:
        return str(self.header.get("requested_by") or "")


def read_plan(path: Path) -> Plan:
    """The plan as written, or InputError when it is not one or was changed since."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError as e:
        raise InputError(f"cannot read the plan {path}: {e.strerror or e}") from e
    if len(lines) < 2:
        raise InputError(f"{path} is not a count plan (too short)")
    try:
        header = json.loads(lines[0])
        trailer = json.loads(lines[-1])
        counts = [json.loads(x) for x in lines[1:-1]]
    except ValueError as e:
        raise InputError(f"{path} is not a count plan: {e}") from e
    if not isinstance(header, dict) or header.get("kind") != PLAN_KIND:
        raise InputError(f"{path} is not a count plan (no {PLAN_KIND} header)")
    digest = hashlib.sha256("".join(lines[:-1]).encode()).hexdigest()
    if not isinstance(trailer, dict) or trailer.get("sha256") != digest:
        raise InputError(f"{path} was changed after it was written (its digest does not match)")
    if trailer.get("counts") != len(counts):
        raise InputError(f"{path} is incomplete: {len(counts)} counts, trailer says otherwise")
    return Plan(header, counts, digest)


def check_approval(plan: Plan, approved_by: str | None, requested_by: str | None) -> None:
    if not plan.requested_by:
        raise InputError("the plan names no requester")
    if requested_by and requested_by.strip() != plan.requested_by:
        raise InputError(
            f"--requested-by {requested_by!r} is not the plan's requester {plan.requested_by!r}"
        )
    if not approved_by or not approved_by.strip():
        raise InputError("--publish-counts needs --approved-by NAME (a second person)")
    if approved_by.strip().casefold() == plan.requested_by.strip().casefold():
        raise InputError("the approver must be someone other than the requester")


def source_of(name: str) -> str:
    """The events' CloudEvents `source`: `wms/<name>` unless a system is named already."""
    name = name.strip()
    if not name:
        raise InputError("--source must not be empty")
    return name if "/" in name else f"wms/{name}"


def events(plan: Plan, *, source: str, approved_by: str) -> list[Any]:
    """The plan's counts as CloudEvents, ids derived from the plan's digest and key."""
    from shared.cloudevent import build

    out = []
    for c in plan.counts:
        if float(c["counted_qty"]) > MAX_COUNT:
            raise InputError(
                f"{c['sku']} at {c['location']}: counted_qty {c['counted_qty']} is beyond the "
                f"{MAX_COUNT:.0e} a count may carry (contract §10)"
            )
        data = {
            "location": c["location"],
            "sku": c["sku"],
            "counted_qty": float(c["counted_qty"]),
            "user": plan.requested_by,
            "approved_by": approved_by.strip(),
            "reason_code": "RECONCILIATION",
            "plan_sha256": plan.digest,
        }
        key = f"{plan.digest}|{c['sku']}|{c['location']}"
        ev_id = str(uuid.uuid5(_NS, key))
        out.append(build(TYPE, data, source=source, id=ev_id, time=parse_time(c["as_of"])))
    return out


async def publish(amqp_url: str, evs: list[Any]) -> tuple[int, list[str]]:
    """Publish with confirms; (confirmed, problems)."""
    from shared.cloudevent import amqp_properties
    from shared.messaging import Outgoing, Publisher, connect

    conn = await connect(amqp_url, "distsync-reconcile")
    problems: list[str] = []
    confirmed = 0
    try:
        pub = Publisher(conn, "reconcile")
        for i in range(0, len(evs), 500):
            part = evs[i : i + 500]
            items = [
                Outgoing(EXCHANGE, TYPE, e.to_json_bytes(), amqp_properties(e), TYPE) for e in part
            ]
            for e, err in zip(part, await pub.publish_many(items), strict=True):
                if err is None:
                    confirmed += 1
                else:
                    problems.append(f"{e.data['sku']} at {e.data['location']}: {err!r}")
    finally:
        await conn.close()
    return confirmed, problems
