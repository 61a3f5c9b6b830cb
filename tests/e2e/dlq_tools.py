"""What on-call staff do with an offending message: find it with `distsync dlq show` and remove
it with `distsync dlq purge`, run as real processes against the test's broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def dlq(amqp_url: str, mongodb_url: str, *args: str) -> tuple[int, Any, str]:
    """Run `distsync dlq ARGS --json`; returns (exit code, parsed stdout, stderr)."""
    env = dict(
        os.environ,
        AMQP_URL=amqp_url,
        MONGODB_URL=mongodb_url,
        DISTSYNC_DLQ_IDLE_S="2",
        USER="oncall",
    )
    p = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "dlq",
        *args,
        "--json",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(p.communicate(), 120)
    text = out.decode()
    return p.returncode or 0, json.loads(text) if text.strip() else None, err.decode()


async def shown(amqp_url: str, mongodb_url: str, service: str, message_id: str) -> Any:
    """The message as `distsync dlq show` prints it, or None while it is not in the DLQ."""
    code, listed, err = await dlq(amqp_url, mongodb_url, "show", service, "--limit", "1000")
    assert code == 0, err
    mine = [m for m in listed or [] if m.get("id") == message_id]
    return mine[0] if mine else None


async def purged(amqp_url: str, mongodb_url: str, service: str, message_id: str) -> None:
    """`distsync dlq purge --id` removes the message: `show` no longer lists it."""
    code, _, err = await dlq(amqp_url, mongodb_url, "purge", service, "--id", message_id, "--yes")
    assert code == 0, err
    assert await shown(amqp_url, mongodb_url, service, message_id) is None
