"""Reads what the services say through their HTTP APIs and compares it with the ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

import httpx

from distsync_sim.simulate.truth import BUCKETS, Truth
from distsync_sim.simulate.truth_orders import OrderTruth

T = TypeVar("T")
TOLERANCE = 1e-6
MAX_DIFFS = 25


@dataclass
class Comparison:
    name: str
    compared: int = 0
    wrong: int = 0
    skipped: int = 0
    diffs: list[dict[str, Any]] = field(default_factory=list)
    by_value: dict[str, int] = field(default_factory=dict)

    def diff(self, key: str, **what: Any) -> None:
        self.wrong += 1
        if len(self.diffs) < MAX_DIFFS:
            self.diffs.append({"key": key, **what})

    def as_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "wrong": self.wrong,
            "skipped": self.skipped,
            "by_value": dict(sorted(self.by_value.items())),
            "diffs": self.diffs,
        }


async def _gather(
    items: Iterable[T], fn: Callable[[T], Awaitable[None]], concurrency: int = 16
) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(x: T) -> None:
        async with sem:
            await fn(x)

    await asyncio.gather(*(one(x) for x in items))


async def _get(c: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    for attempt in range(5):
        try:
            r = await c.get(url)
            return r.status_code, (r.json() if r.status_code == 200 else None)
        except httpx.HTTPError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _num(x: Fraction) -> float:
    return float(x)


async def positions(c: httpx.AsyncClient, base: str, truth: Truth) -> Comparison:
    """Every bucket of every position the truth knows, and any the service has beyond it."""
    cmp = Comparison("positions")
    skus: dict[str, list[str]] = {}
    for sku, loc in truth.positions:
        skus.setdefault(sku, []).append(loc)

    async def one(sku: str) -> None:
        status, body = await _get(c, f"{base}/v1/availability/{sku}")
        have: dict[str, dict[str, Any]] = {}
        if status == 200:
            have = {p["location"]: p for p in body["locations"]}
        elif status != 404:
            cmp.diff(sku, error=f"HTTP {status}")
            return
        for loc in sorted(set(skus[sku]) | set(have)):
            p = truth.positions.get((sku, loc))
            cmp.compared += 1
            want = (
                {k: _num(v) for k, v in p.numbers().items()} if p else dict.fromkeys(BUCKETS, 0.0)
            )
            got = have.get(loc)
            wrong = {
                k: {"expected": want[k], "actual": None if got is None else got.get(k)}
                for k in BUCKETS
                if abs(want[k] - float((got or {}).get(k) or 0.0)) > TOLERANCE
            }
            if wrong:
                cmp.diff(f"{sku}@{loc}", fields=wrong)

    await _gather(sorted(skus), one)
    return cmp


async def orders(c: httpx.AsyncClient, base: str, truth: OrderTruth, prefix: str) -> Comparison:
    """Statuses from the paged list; an order missing from it is read on its own."""
    cmp = Comparison("orders")
    listed: dict[str, str] = {}
    cursor: str | None = None
    while True:
        url = f"{base}/v1/orders?limit=500" + (f"&cursor={cursor}" if cursor else "")
        status, body = await _get(c, url)
        if status != 200:
            break
        for o in body["items"]:
            if o["order_id"].startswith(prefix):
                listed[o["order_id"]] = o["status"]
        cursor = body.get("next_cursor")
        if not cursor:
            break

    async def one(oid: str) -> None:
        status, body = await _get(c, f"{base}/v1/orders/{oid}")
        listed[oid] = body["status"] if status == 200 else f"HTTP {status}"

    await _gather([o for o in truth.statuses if o not in listed], one)
    for oid, want in sorted(truth.statuses.items()):
        cmp.compared += 1
        cmp.by_value[want] = cmp.by_value.get(want, 0) + 1
        if listed.get(oid) != want:
            cmp.diff(oid, expected=want, actual=listed.get(oid), reason=truth.reasons.get(oid))
    return cmp


async def shipments(c: httpx.AsyncClient, base: str, truth: OrderTruth) -> Comparison:
    cmp = Comparison("shipments")

    async def one(tn: str) -> None:
        want = truth.shipments[tn]
        status, body = await _get(c, f"{base}/v1/shipments/{tn}")
        got = body.get("milestone") if status == 200 else None
        cmp.compared += 1
        key = want or "none"
        cmp.by_value[key] = cmp.by_value.get(key, 0) + 1
        if got != want:
            cmp.diff(tn, expected=want, actual=got if status == 200 else f"HTTP {status}")

    await _gather(sorted(truth.shipments), one)
    return cmp


async def purchase_orders(c: httpx.AsyncClient, base: str, truth: Truth) -> Comparison:
    cmp = Comparison("purchase_orders")

    async def one(po_id: str) -> None:
        po = truth.pos[po_id]
        status, body = await _get(c, f"{base}/v1/purchase-orders/{po_id}")
        cmp.compared += 1
        cmp.by_value[po.status] = cmp.by_value.get(po.status, 0) + 1
        if status != 200:
            cmp.diff(po_id, expected=po.status, actual=f"HTTP {status}")
            return
        wrong: dict[str, Any] = {}
        if body.get("status") != po.status:
            wrong["status"] = {"expected": po.status, "actual": body.get("status")}
        lines = {ln["line_id"]: ln for ln in body.get("lines", [])}
        for ln in po.lines.values():
            got = lines.get(ln.line_id, {})
            for f in ("received", "accepted", "quarantined"):
                want = float(getattr(ln, f))
                if abs(want - float(got.get(f) or 0.0)) > TOLERANCE:
                    wrong[f"{ln.line_id}.{f}"] = {"expected": want, "actual": got.get(f)}
        if wrong:
            cmp.diff(po_id, fields=wrong)

    await _gather(sorted(truth.pos), one)
    return cmp


async def returns(c: httpx.AsyncClient, base: str, truth: Truth) -> Comparison:
    cmp = Comparison("returns")

    async def one(rma_id: str) -> None:
        rma = truth.rmas[rma_id]
        want = rma.status()
        status, body = await _get(c, f"{base}/v1/returns/{rma_id}")
        got = body.get("status") if status == 200 else f"HTTP {status}"
        cmp.compared += 1
        key = want or "unauthorized"
        cmp.by_value[key] = cmp.by_value.get(key, 0) + 1
        if got != want:
            cmp.diff(rma_id, expected=want, actual=got)

    await _gather(sorted(truth.rmas), one)
    return cmp


async def everything(
    urls: dict[str, str], truth: Truth, order_truth: OrderTruth, prefix: str
) -> dict[str, Comparison]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        out: dict[str, Comparison] = {}
        jobs: list[tuple[str, Awaitable[Comparison]]] = [
            ("positions", positions(c, urls["availability"], truth)),
            ("orders", orders(c, urls["order-status"], order_truth, prefix)),
            ("shipments", shipments(c, urls["carrier-tracking"], order_truth)),
            ("purchase_orders", purchase_orders(c, urls["receipt"], truth)),
            ("returns", returns(c, urls["returns"], truth)),
        ]
        for name, job in jobs:
            try:
                out[name] = await job
            except Exception as e:
                cmp = Comparison(name)
                cmp.diff("(all)", error=repr(e)[:300])
                out[name] = cmp
        return out
