"""`distsync dlq` as operators and scripts use it (a real process: exit codes, --json, Ctrl-C),
and the same operations over the HTTP admin API."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx
import pytest

from distsync_ops import dlq as D
from distsync_ops.dlq_api import create_dlq_app
from distsync_ops.stack import write_stack
from runtime_support import drain_queue, eventually, queue_depth
from tools.ops.tests.dlq_support import (
    DLQ_COMMAND,
    dlq_env,
    dlq_settings,
    finish,
    run_dlq,
    sink,
    start,
)
from tools.ops.tests.dlq_support import seed as seed_failed

pytestmark = pytest.mark.integration


async def seed(url: str, n: int) -> tuple[str, list[str]]:
    """n failed events in a fresh service's DLQ, plus an exchange+queue to replay them into."""
    service, ids = await seed_failed(url, n, prefix="cli")
    await sink(url, f"{service}.sink", exchange=f"{service}.replays")
    return service, ids


class Cli:
    def __init__(self, amqp_url: str, mongodb_url: str, db_name: str) -> None:
        self.env = dlq_env(amqp_url, mongodb_url, db_name, USER="oncall")

    async def start(self, *args: str) -> Any:
        return await start(*DLQ_COMMAND, *args, env=self.env)

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        return await run_dlq(*args, env=self.env)

    async def json(self, *args: str) -> tuple[int, Any]:
        code, out, err = await self(*args, "--json")
        assert out.strip(), err
        return code, json.loads(out)


@pytest.fixture
def cli(amqp_url, mongodb_url, db_name) -> Cli:
    return Cli(amqp_url, mongodb_url, db_name)


async def test_list_show_and_export_report_without_touching_and_exit_zero(cli, amqp_url, tmp_path):
    service, ids = await seed(amqp_url, 4)
    code, [q] = await cli.json("list", service)
    assert code == 0 and q["depth"] == 4 and q["groups"][0]["count"] == 4
    code, out, _ = await cli("list", service)
    assert code == 0 and "GROUP" in out and q["groups"][0]["id"] in out and "Rejected" in out
    code, shown = await cli.json("show", service, "--limit", "2")
    assert code == 0 and [m["id"] for m in shown] == ids[:2]
    assert shown[0]["headers"]["exception-type"] == "Rejected" and shown[0]["attempts"] == 1
    code, out, _ = await cli("show", service, "--limit", "1")
    assert code == 0 and ids[0] in out and "no conversion for unit CS" in out
    path = tmp_path / "x.jsonl"
    code, out, _ = await cli("export", service, "--file", str(path))
    assert code == 0 and len(path.read_text().splitlines()) == 4
    code, out, _ = await cli("export", service, "--id", ids[3])
    assert code == 0 and json.loads(out)["event_id"] == ids[3]
    assert await queue_depth(amqp_url, f"{service}.dlq") == 4


async def test_exit_codes_scripts_can_trust(cli, amqp_url):
    service, ids = await seed(amqp_url, 3)
    code, _, err = await cli("replay", service)  # all of them, no --yes, not a terminal
    assert code == 3 and "--yes" in err
    code, res = await cli.json("replay", service, "--type", "nothing.like.this", "--yes")
    assert code == 3 and res["matched"] == 0
    code, _, err = await cli("list", "no-such-service")
    assert code == 2 and "no queue" in err
    code, _, _ = await cli("replay")  # argparse: SERVICE missing
    assert code == 2
    code, _, _ = await cli("replay", service, "--to", "x", "--direct", "--yes")
    assert code == 2
    code, res = await cli.json("replay", service, "--to", f"{service}.nowhere", "--yes")
    assert code == 1 and res["failed"] == 3 and not res["ok"]
    code, res = await cli.json("replay", service, "--dry-run")
    assert code == 0 and res["matched"] == 3 and res["done"] == 0
    code, res = await cli.json("replay", service, "--id", ids[1], "--to", f"{service}.replays")
    assert code == 0 and res["done"] == 1 and res["user"] == "oncall"
    assert [m.message_id for m in await drain_queue(amqp_url, f"{service}.sink")] == [ids[1]]
    code, entries = await cli.json("audit", service)
    assert code == 0 and [e["action"] for e in entries] == ["replay", "replay", "replay"]
    assert entries[0]["selector"] == {"ids": [ids[1]]} and entries[0]["user"] == "oncall"


async def test_purge_asks_first_then_restore_brings_everything_back(cli, amqp_url, tmp_path):
    service, ids = await seed(amqp_url, 5)
    code, _, _ = await cli("purge", service)
    assert code == 3 and await queue_depth(amqp_url, f"{service}.dlq") == 5
    path = tmp_path / "purged.jsonl"
    code, res = await cli.json("purge", service, "--yes", "--file", str(path), "--user", "kim")
    assert code == 0 and res["done"] == 5 and res["archive_id"]
    assert await queue_depth(amqp_url, f"{service}.dlq") == 0
    code, res2 = await cli.json("restore", res["archive_id"])
    assert code == 0 and res2["done"] == 5
    code, _ = await cli.json("restore", res["archive_id"])
    assert code == 3  # already restored
    assert [m.message_id for m in await drain_queue(amqp_url, f"{service}.dlq")] == ids


async def test_ctrl_c_stops_a_replay_and_loses_nothing(cli, amqp_url):
    service, ids = await seed(amqp_url, 40)
    p = await cli.start("replay", service, "--yes", "--rate", "10", "--to", f"{service}.replays")
    await eventually(lambda: _at_least(amqp_url, f"{service}.sink", 5), timeout=30)
    p.send_signal(signal.SIGINT)
    code, out, err = await finish(p, 60)
    assert code == 3, err
    assert "CANCELLED" in out
    replayed = [m.message_id for m in await drain_queue(amqp_url, f"{service}.sink")]
    left = [m.message_id for m in await drain_queue(amqp_url, f"{service}.dlq")]
    assert 5 <= len(replayed) < 40
    assert replayed + left == ids  # each exactly once, nothing lost, order kept


async def _at_least(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) >= n


# --- the HTTP admin API -----------------------------------------------------------------------


@pytest.fixture
def api_settings(amqp_url, mongodb_url, db_name) -> D.DlqSettings:
    return dlq_settings(amqp_url, mongodb_url, db_name, dlq_api_token=TOKEN)


TOKEN = "s3cret-token-for-the-api-tests"


def client(settings: D.DlqSettings, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=create_dlq_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090", headers=headers)


async def test_the_admin_api_offers_the_same_operations(api_settings, amqp_url):
    service, ids = await seed(amqp_url, 3)
    async with client(api_settings, token=None) as anon:
        assert (await anon.get("/v1/dlq", params={"service": service})).status_code == 401
    async with client(api_settings) as http:
        r = await http.get("/v1/dlq", params={"service": service})
        assert r.status_code == 200 and r.json()[0]["depth"] == 3
        r = await http.get(f"/v1/dlq/{service}/messages", params={"limit": 2})
        assert [m["id"] for m in r.json()] == ids[:2]
        assert (await http.get("/v1/dlq/no-such/messages")).status_code == 404
        r = await http.post(f"/v1/dlq/{service}/replay", json={})
        assert r.status_code == 422 and "all" in r.json()["detail"]
        r = await http.post(
            f"/v1/dlq/{service}/replay",
            params={"wait": "true"},
            json={"all": True, "dry_run": True},
        )
        assert r.status_code == 200 and r.json()["outcome"]["matched"] == 3
        body = {"ids": [ids[0]], "to": f"{service}.replays", "user": "api-user"}
        r = await http.post(f"/v1/dlq/{service}/replay", params={"wait": "true"}, json=body)
        assert r.status_code == 200 and r.json()["state"] == "done"
        assert r.json()["outcome"]["done"] == 1
        r = await http.get(f"/v1/dlq/{service}/export")
        assert [json.loads(x)["event_id"] for x in r.text.splitlines()] == ids[1:]

        slow = {"all": True, "rate": 2, "to": f"{service}.replays"}
        r = await http.post(f"/v1/dlq/{service}/replay", json=slow)
        assert r.status_code == 202
        task = r.json()["task"]
        await eventually(lambda: _task_done_at_least(http, task, 1))
        r = await http.delete(f"/v1/dlq/tasks/{task}")
        assert r.json()["state"] == "cancelled"
        replayed = len(await drain_queue(amqp_url, f"{service}.sink"))
        assert replayed + await queue_depth(amqp_url, f"{service}.dlq") == 3

        r = await http.post(f"/v1/dlq/{service}/purge", params={"wait": "true"}, json={"all": True})
        archive_id = r.json()["outcome"]["archive_id"]
        assert r.status_code == 200 and await queue_depth(amqp_url, f"{service}.dlq") == 0
        r = await http.post(
            "/v1/dlq/restore", params={"wait": "true"}, json={"archive": archive_id}
        )
        assert r.status_code == 200 and await queue_depth(amqp_url, f"{service}.dlq") > 0
        r = await http.post(
            "/v1/dlq/restore", params={"wait": "true"}, json={"archive": archive_id}
        )
        assert r.status_code == 409
        r = await http.get("/v1/dlq/audit", params={"service": service})
        assert {e["action"] for e in r.json()} >= {"replay", "purge"}


async def _task_done_at_least(http: httpx.AsyncClient, task: str, n: int) -> bool:
    r = await http.get(f"/v1/dlq/tasks/{task}")
    return bool(r.json()["outcome"]["done"] >= n)


STACK_ENV = (
    "AMQP_URL",
    "DISTSYNC_AMQP_URL",
    "MONGODB_URL",
    "DISTSYNC_MONGODB_URL",
    "DISTSYNC_STACK_FILE",
)


async def test_beside_distsync_up_the_commands_find_its_stack_and_keep_logs_off_stdout(
    amqp_url, mongodb_url, db_name, tmp_path
):
    """What on-call staff do beside `make run`: no AMQP_URL or MONGODB_URL set, the embedded
    database on its own port. The tools read `.data/stack.json` (from a directory below it,
    too), stdout carries only the result, and the INFO log lines stay away unless -v."""
    service, ids = await seed(amqp_url, 2)
    write_stack(
        tmp_path / ".data", amqp_url=amqp_url, mongodb_url=mongodb_url, services={}, dlq_api=None
    )
    below = tmp_path / "services"
    below.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV}
    env.update(DISTSYNC_ADMIN_DB=db_name + "_admin", DISTSYNC_DLQ_IDLE_S="2", USER="oncall")

    async def run(*args: str) -> tuple[int, str, str]:
        return await run_dlq(*args, env=env, cwd=below)

    code, out, err = await run("list", service)
    assert code == 0 and "Rejected" in out, out + err
    assert err == "" and "dlq_" not in out  # no log line anywhere

    code, out, err = await run("replay", service, "--id", ids[0], "--yes", "--json")
    assert code == 0, out + err
    assert json.loads(out)["done"] == 1  # stdout is the result, and only that
    assert err == ""  # the audit line is INFO: not shown without -v
    assert await queue_depth(amqp_url, f"{service}.dlq") == 1

    code, out, err = await run("replay", service, "--yes", "--json", "--verbose")
    assert code == 0 and json.loads(out)["done"] == 1, out + err
    stack_file = str(tmp_path / ".data" / "stack.json")
    assert f"amqp_url: stack file {stack_file}" in err
    assert f"mongodb_url: stack file {stack_file}" in err
    assert "dlq_operation_finished" in err  # the audit line, on stderr
    audit = json.loads((await run("audit", service, "--json"))[1])
    assert [e["action"] for e in audit][:2] == ["replay", "replay"]
