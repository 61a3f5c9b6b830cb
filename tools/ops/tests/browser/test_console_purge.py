"""A purge from the console asks for confirmation (cancelled, nothing happens), then archives
the message before it leaves the DLQ; the archive restores it; the audit page shows who did it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distsync_ops import dlq as D
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
from tools.ops.tests.dlq_support import dlq_settings

pytestmark = [pytest.mark.integration, needs_chromium]

SERVICE = "carrier-tracking"  # not stock-moving: one operator suffices
QUEUE = f"{SERVICE}.dlq"


async def test_a_purge_asks_first_archives_and_can_be_restored(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    ids = await seed_dlq(amqp_url, SERVICE, 3, "carrier.status_received")
    settings = dlq_settings(amqp_url, mongodb_url, db_name)
    app = create_dlq_app(settings, keyed_auth(tmp_path))
    async with served(app) as base, chromium() as browser:
        page = await signed_in(browser, base, "alice")
        await page.goto(f"{base}/console/services/{SERVICE}")
        await ready(page)
        await page.get_by_role("link", name="Rejected").click()
        await ready(page)
        await page.get_by_label(f"Select {ids[0]}").check()

        # from the keyboard: Enter opens the confirmation with Cancel focused, Escape declines
        await page.get_by_role("button", name="Purge…").focus()
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        await dialog.get_by_text(f"Purge 1 selected message(s) from {SERVICE}").wait_for()
        assert await page.evaluate("document.activeElement.id") == "confirm-cancel"
        await shot(page, "purge-confirm", full_page=False)
        await page.keyboard.press("Escape")
        await page.get_by_text("Purge not started.").wait_for()
        assert await queue_depth(amqp_url, QUEUE) == 3  # cancelled: nothing happened

        await page.get_by_role("button", name="Purge…").click()
        await dialog.get_by_role("button", name="Purge", exact=True).click()
        await page.locator("#task-state").get_by_text("purge: done, 1 done of 1").wait_for()
        summary = await page.locator("#task-summary").inner_text()
        found = re.search(r"archive id\s+(\S+)", summary)
        assert found, summary
        archive_id = found.group(1)
        await shot(page, "purge-summary")
        assert await queue_depth(amqp_url, QUEUE) == 2
        admin = D.Admin(settings)
        try:
            docs = await admin.archive_docs(archive_id)
        finally:
            await admin.close()
        assert [d["event_id"] for d in docs] == [ids[0]]

        await page.get_by_role("button", name="Restore this archive").click()
        await dialog.get_by_role("button", name="Restore").click()
        await page.locator("#task-state").get_by_text("restore: done, 1 done of 1").wait_for()
        assert await queue_depth(amqp_url, QUEUE) == 3

        # the restored message is back, and its page lists the purge that archived it
        await page.goto(f"{base}/console/services/{SERVICE}/messages/{ids[0]}")
        await ready(page)
        ops = page.get_by_role("table", name="Operations that selected this message or its group")
        purged = ops.get_by_role("row").filter(has=page.get_by_role("rowheader", name="purge"))
        text = await purged.inner_text()
        assert "api_key:alice" in text and "done" in text and archive_id in text

        auditor = await signed_in(browser, base, "auditor")
        await auditor.goto(f"{base}/console/audit")
        await ready(auditor)
        purge = auditor.get_by_role("row").filter(
            has=auditor.get_by_role("rowheader", name="dlq.purge", exact=True)
        )
        await purge.first.wait_for()
        text = await purge.first.inner_text()
        assert "alice" in text and SERVICE in text and "done" in text
        await shot(auditor, "audit")


async def test_pages_fit_a_small_screen_and_label_every_control(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    await seed_dlq(amqp_url, SERVICE, 2, "carrier.status_received")
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), keyed_auth(tmp_path))
    phone = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
    async with served(app) as base, chromium() as browser:
        page = await signed_in(browser, base, "alice", **phone)
        await shot(page, "small-screen-overview")
        await page.goto(f"{base}/console/services/{SERVICE}")
        await ready(page)
        await page.get_by_role("link", name="Rejected").click()
        await ready(page)
        await shot(page, "small-screen-group")
        for path in ("/console/", f"/console/services/{SERVICE}", page.url.removeprefix(base)):
            await page.goto(base + path)
            await ready(page)
            # the page itself never scrolls sideways: wide tables scroll inside their box
            assert await page.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth"
            ), path
            unlabelled = await page.evaluate(
                """[...document.querySelectorAll('input, textarea, select')]
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                   .map(e => e.outerHTML)"""
            )
            assert unlabelled == [], unlabelled
