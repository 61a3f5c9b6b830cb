"""Signing in to the console: a bearer token or an API key, checked before it is kept; a wrong
one is refused on the page; the credential travels only as a header (never in a URL) and lives
in the tab's sessionStorage until *Sign out*."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tools.ops.tests.browser.console_support import (
    KEYS,
    chromium,
    keyed_auth,
    needs_chromium,
    ready,
    served,
    shot,
)
from tools.ops.tests.dlq_support import dlq_settings

pytestmark = [pytest.mark.integration, needs_chromium]

TOKEN = "console-shared-token-" + "t" * 24


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DISTSYNC_AUTH_", "DISTSYNC_DLQ_API_")):
            monkeypatch.delenv(name)


async def test_sign_in_with_a_bearer_token_or_a_key_never_through_a_url(
    amqp_url: str, mongodb_url: str, db_name: str, tmp_path: Path
) -> None:
    from distsync_ops.dlq_api import create_dlq_app

    settings = dlq_settings(amqp_url, mongodb_url, db_name, dlq_api_token=TOKEN)
    app = create_dlq_app(settings, keyed_auth(tmp_path))  # API keys, and the shared token
    async with served(app) as base, chromium() as browser:
        ctx = await browser.new_context()
        page = await ctx.new_page()
        sent: list[tuple[str, dict[str, str]]] = []
        page.on("request", lambda r: sent.append((r.url, r.headers)))

        await page.goto(f"{base}/console/audit")  # no credentials yet: to the sign-in page
        await page.wait_for_url(f"{base}/console/login?next=%2Fconsole%2Faudit")
        await ready(page)
        await shot(page, "login")
        await page.get_by_label("Key or token").fill("not-a-key-" + "x" * 30)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Sign-in failed: unknown API key").wait_for()
        assert await stored(page) is None

        await page.get_by_label("Bearer token (from the identity provider)").check()
        await page.get_by_label("Key or token").fill(TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base}/console/audit")  # back where it was going
        await ready(page)
        await page.get_by_text("token (token)").wait_for()  # the shared token's identity
        await page.get_by_text(re.compile(r"^\d+ entries\.$")).wait_for()  # audit:read works

        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url(f"{base}/console/login")
        assert await stored(page) is None
        await page.get_by_label("Key or token").fill(KEYS["bob"][0])
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base}/console/")
        await ready(page)
        await page.get_by_text("bob (api_key)").wait_for()

        for url, headers in sent:
            assert TOKEN not in url and KEYS["bob"][0] not in url, url
        with_key = [u for u, h in sent if h.get("x-api-key") == KEYS["bob"][0]]
        with_token = [u for u, h in sent if h.get("authorization") == f"Bearer {TOKEN}"]
        assert with_key and with_token
        assert all("/v1/" in u for u in with_key + with_token)  # only API calls carry them
        await ctx.close()


async def stored(page: Any) -> Any:
    return await page.evaluate("sessionStorage.getItem('distsync.console.credentials')")
