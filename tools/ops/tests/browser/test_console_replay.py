"""On-call staff fix a poison message from the console, on the real broker: it appears in its
failure group, is inspected, its item master is published, it is replayed from the page after a
dry run, and the stock position changes exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from runtime_support import queue_depth
from tests.e2e.harness import Cluster, eventually, get_json
from tools.ops.tests.browser.console_support import (
    chromium,
    keyed_auth,
    needs_chromium,
    ready,
    served,
    shot,
    signed_in,
)
from tools.ops.tests.dlq_support import dlq_settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e, needs_chromium]


async def test_a_poison_message_is_found_inspected_fixed_and_replayed_once(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    cluster = Cluster(amqp_url, mongodb_url)
    await cluster.apply_topology()
    try:
        av = (await cluster.start("availability", availability={"max_attempts": 2}))["availability"]
        monkeypatch.setenv(
            "DISTSYNC_TRACE_DBS", f'{{"availability": "e2e_{cluster.tag}_availability"}}'
        )
        changed = await cluster.listen("availability.events", "availability.changed")
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        adjusted = {
            "location": "DC-WEST",
            "sku": sku,
            "qty_delta": 2,
            "uom": "CS",
            "reason_code": "FOUND",
            "user": "t",
        }
        mid = await cluster.publish(
            "wms.events",
            "inventory.adjusted",
            adjusted,
            source="wms/dc-west",
            correlationid=f"corr-{sku}",
        )
        await eventually(lambda: _depth_is(amqp_url, "availability.dlq", 1), timeout=30)

        app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), keyed_auth(tmp_path))
        async with served(app) as base, chromium() as browser:
            page = await signed_in(browser, base, "alice")
            watcher = await signed_in(browser, base, "alice")  # an overview, never reloaded
            errors: list[str] = []
            for tab in (page, watcher):
                tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                tab.on("pageerror", lambda e: errors.append(str(e)))
            row = page.get_by_role("row").filter(
                has=page.get_by_role("link", name="availability", exact=True)
            )
            await row.get_by_text("current").wait_for()
            assert (await row.get_by_role("cell").nth(0).inner_text()).strip() == "1"
            await shot(page, "overview")

            await page.get_by_role("link", name="availability", exact=True).click()
            await ready(page)
            group = page.get_by_role("link", name="UnknownUnit")
            await group.wait_for()
            text = await page.get_by_role("table").inner_text()
            assert "inventory.adjusted" in text and "publish item.updated then replay" in text
            await shot(page, "groups")

            await group.click()
            await ready(page)
            await page.get_by_role("link", name=mid).wait_for()
            await shot(page, "group")

            await page.get_by_role("link", name=mid).click()
            await ready(page)
            body = await page.locator("pre.event").inner_text()
            assert sku in body and '"qty_delta": 2' in body
            assert "no conversion from CS" in await page.locator("dl.kv").first.inner_text()
            assert await page.get_by_role("link", name=f"Correlation trace corr-{sku}").count() == 1
            await shot(page, "message")

            # the fix: the item master with the case conversion, applied before the replay
            await cluster.publish(
                "erp.events",
                "item.updated",
                {"sku": sku, "base_uom": "EA", "uom_conversions": {"CS": 12}},
                source="erp/main",
            )
            await eventually(lambda: _base_uom(av, sku))

            await page.get_by_role("button", name="Replay…").click()
            dialog = page.get_by_role("dialog")
            await dialog.get_by_text("1 → wms.events -> inventory.adjusted").wait_for()
            await shot(page, "replay-dry-run", full_page=False)
            await dialog.get_by_role("button", name="Replay 1").click()
            state = page.locator("#task-state")
            await state.get_by_text("replay: done, 1 done of 1").wait_for()
            assert (
                "1 → wms.events -> inventory.adjusted"
                in await page.locator("#task-summary").inner_text()
            )
            await shot(page, "replay-summary")

            async def converted() -> bool:
                p = await get_json(av, f"/v1/availability/{sku}/DC-WEST")
                return bool(p and p["on_hand"] == 24)

            await eventually(converted, timeout=30)
            assert await queue_depth(amqp_url, "availability.dlq") == 0
            # exactly once: a second application would make it 48 and emit a second change
            await eventually(lambda: _quiet(amqp_url), timeout=30)
            await asyncio.sleep(2)  # a duplicate, if any, would have been applied by now
            p = await get_json(av, f"/v1/availability/{sku}/DC-WEST")
            assert p["on_hand"] == 24
            mine = [e for e in changed if e["data"]["sku"] == sku]
            assert len(mine) == 1, mine

            await page.get_by_role("link", name=f"Correlation trace corr-{sku}").click()
            await ready(page)
            cause = page.get_by_role("row").filter(
                has=page.get_by_role("rowheader", name="inventory.adjusted")
            )
            await cause.get_by_role("cell", name=mid).wait_for()
            effect = page.get_by_role("row").filter(
                has=page.get_by_role("rowheader", name="availability.changed")
            )
            assert await effect.get_by_role("cell", name=mid).count() == 1  # caused by it
            await shot(page, "trace")

            # the overview left open in another window has refreshed by itself: empty, no group
            row = watcher.get_by_role("row").filter(
                has=watcher.get_by_role("link", name="availability", exact=True)
            )
            await row.get_by_role("cell").nth(0).filter(has_text="0").wait_for()
            await row.get_by_role("cell").nth(3).filter(has_text="0").wait_for()
            assert errors == []  # no script error, nothing the content policy refused
    finally:
        await cluster.stop()


async def _depth_is(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) == n


async def _base_uom(av: object, sku: str) -> bool:
    item = await get_json(av, f"/v1/availability/{sku}")  # type: ignore[arg-type]
    return bool(item and item.get("base_uom") == "EA")


async def _quiet(url: str) -> bool:
    """Availability has taken everything from its queues (the replay and any retry)."""
    return all([await queue_depth(url, q) == 0 for q in ("availability.main", "availability.dlq")])
