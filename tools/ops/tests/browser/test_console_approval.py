"""A stock-moving replay over the approval threshold, from the console: the first person's
replay becomes a request and nothing moves; the requester cannot approve it; a second person
approves it on the approvals page, and it runs there, with progress and a summary."""

from __future__ import annotations

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
from tools.ops.tests.dlq_support import dlq_settings

pytestmark = [pytest.mark.integration, needs_chromium]


async def test_an_approval_required_replay_waits_for_a_second_person(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    await seed_dlq(amqp_url, "availability", 5, "inventory.adjusted")
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), keyed_auth(tmp_path, 3))
    async with served(app) as base, chromium() as browser:
        alice = await signed_in(browser, base, "alice")
        await alice.goto(f"{base}/console/services/availability")
        await ready(alice)
        await alice.get_by_role("link", name="Rejected").click()
        await ready(alice)
        await alice.get_by_label("Act on the whole group (5)").check()
        await alice.get_by_role("button", name="Replay…").click()
        dialog = alice.get_by_role("dialog")
        await dialog.get_by_text("5 → wms.events -> inventory.adjusted").wait_for()
        await dialog.get_by_role("button", name="Replay 5").click()
        panel = alice.locator("#task")
        await panel.get_by_text("Waiting for a second person").wait_for()
        notice = await alice.locator("#task-state").inner_text()
        assert "over the approval threshold (3)" in notice and "pending" in notice
        await shot(alice, "approval-requested", full_page=False)
        assert await queue_depth(amqp_url, "availability.dlq") == 5  # a request moves nothing

        await alice.goto(f"{base}/console/approvals")
        await ready(alice)
        await alice.get_by_role("button", name="Approve", exact=False).first.click()
        await alice.get_by_role("dialog").get_by_role("button", name="Approve and run").click()
        await alice.get_by_text("another person must approve").wait_for()
        assert await queue_depth(amqp_url, "availability.dlq") == 5

        bob = await signed_in(browser, base, "bob")
        await bob.goto(f"{base}/console/approvals")
        await ready(bob)
        row = bob.get_by_role("row").filter(has_text="api_key:alice")
        assert "replay" in await row.inner_text() and "5" in await row.inner_text()
        await shot(bob, "approvals")
        await row.get_by_role("button", name="Approve").click()
        await bob.get_by_label("Note for the audit log").fill("ERP fixed the unit table")
        await bob.get_by_role("dialog").get_by_role("button", name="Approve and run").click()
        await bob.locator("#task-state").get_by_text("replay: done, 5 done of 5").wait_for()
        await shot(bob, "approval-done")
        assert await queue_depth(amqp_url, "availability.dlq") == 0
        assert await queue_depth(amqp_url, "availability.main") == 5  # where the dry run said
        await bob.get_by_role("button", name="Close").click()
        await bob.get_by_text("No pending requests.").wait_for()
