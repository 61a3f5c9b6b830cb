"""A long replay from the console shows its progress and can be cancelled: what was replayed
stays replayed, the rest stays in the DLQ, and the summary says how many of each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime_support import queue_depth
from tools.ops.tests.browser.console_support import (
    chromium,
    keyed_auth,
    needs_chromium,
    ready,
    seed_dlq,
    served,
    shot,
    signed_in,
)
from tools.ops.tests.dlq_support import dlq_settings, sink

pytestmark = [pytest.mark.integration, needs_chromium]

SERVICE = "order-status"
N = 40


async def test_a_slow_replay_shows_progress_and_cancels_without_loss(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    await seed_dlq(amqp_url, SERVICE, N, "order.placed")
    await sink(amqp_url, "cancel.sink")  # bound to wms.events, where the replays go
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), keyed_auth(tmp_path))
    async with served(app) as base, chromium() as browser:
        page = await signed_in(browser, base, "alice")
        await page.goto(f"{base}/console/services/{SERVICE}")
        await ready(page)
        await page.get_by_role("link", name="Rejected").click()
        await ready(page)
        await page.get_by_label(f"Act on the whole group ({N})").check()
        await page.get_by_role("button", name="Replay…").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_text(f"{N} → wms.events -> order.placed").wait_for()
        await page.get_by_label("Messages per second").fill("8")
        await dialog.get_by_role("button", name=f"Replay {N}").click()

        state = page.locator("#task-state")
        await state.get_by_text(re.compile(r"replay: running, ([1-9]\d*) done of 40")).wait_for()
        await shot(page, "replay-progress", full_page=False)
        await page.get_by_role("button", name="Cancel operation").click()
        await state.get_by_text(re.compile("replay: cancelled")).wait_for()
        done = int(re.search(r"(\d+) done of", await state.inner_text()).group(1))  # type: ignore[union-attr]
        assert 0 < done < N
        summary = await page.locator("#task-summary").inner_text()
        assert re.search(rf"selected, left in the DLQ\s+{N - done}\b", summary), summary
        await shot(page, "replay-cancelled", full_page=False)
    assert await queue_depth(amqp_url, f"{SERVICE}.dlq") == N - done
    assert await queue_depth(amqp_url, "cancel.sink") == done  # replayed once each, none lost
