"""What the console's browser tests share: Debian's chromium through Playwright, the admin API
served over real HTTP in the test's event loop, API keys for several people, screenshots."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import uvicorn

from distsync_sim.testing import free_port
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.envelope import build
from shared.topology import all_services, declare, service_topology

CHROMIUM = os.environ.get("DISTSYNC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)
needs_chromium = pytest.mark.skipif(
    not HAVE_CHROMIUM,
    reason=f"no chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does) to run the "
    "console's browser tests",
)
# the screenshots docs/runbook-dlq.md shows are written there only when asked
# (DISTSYNC_CONSOLE_SHOTS=docs/console); otherwise to a temporary folder, so a test run leaves
# the working tree as it was
SHOTS = Path(
    os.environ.get("DISTSYNC_CONSOLE_SHOTS")
    or Path(tempfile.gettempdir()) / "distsync-console-shots"
).resolve()

KEYS = {  # client: (key, scopes)
    "alice": ("alice-" + "a" * 40, ["dlq:read", "dlq:replay", "dlq:purge", "dlq:approve"]),
    "bob": ("bob-" + "b" * 40, ["dlq:read", "dlq:approve"]),
    "auditor": ("auditor-" + "d" * 40, ["dlq:read", "audit:read"]),
}


def keyed_auth(tmp_path: Path, threshold: int = 3) -> AuthSettings:
    path = tmp_path / "keys.json"
    entries = [{"client": c, "sha256": digest(k), "scopes": s} for c, (k, s) in KEYS.items()]
    path.write_text(json.dumps(entries))
    return AuthSettings(mode="api_keys", api_keys_file=str(path), approval_threshold=threshold)


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` on a free loopback port, in this event loop; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium, headless, driven by Playwright (its own browser download unused)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Any, base: str, client: str, **context: Any) -> Any:
    """A new browser context (its own sessionStorage) signed in with `client`'s API key."""
    ctx = await browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context})
    page = await ctx.new_page()
    page.set_default_timeout(30_000)
    await page.goto(f"{base}/console/login")
    await page.get_by_label("Key or token").fill(KEYS[client][0])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/console/")
    await ready(page)
    return page


async def ready(page: Any) -> None:
    """The page's script has rendered its first data."""
    await page.wait_for_selector("body[data-ready=true]")


async def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """SHOTS/NAME.png (a dialog is shot as the viewport shows it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def seed_dlq(url: str, service: str, n: int, event_type: str) -> list[str]:
    """n events that `service` refused, in its DLQ (its topology declared); their ids."""
    from tools.ops.tests.dlq_support import failed_headers  # needs the tests' pythonpath

    svc = {s.name: s for s in all_services()}[service]
    conn = await aio_pika.connect(url)
    ids = []
    try:
        ch = await conn.channel(publisher_confirms=True)
        await declare(ch, service_topology(svc))
        for i in range(n):
            ev = build(event_type, {"sku": f"S{i}", "n": i}, source="wms/t")
            ids.append(ev.id)
            await ch.default_exchange.publish(
                aio_pika.Message(
                    ev.to_json_bytes(),
                    headers=failed_headers(service, event_type=ev.type),
                    message_id=ev.id,
                    type=ev.type,
                    delivery_mode=2,
                ),
                routing_key=f"{service}.dlq",
            )
    finally:
        await conn.close()
    return ids
