"""`make run` and Ctrl-C: the services stop first, within their grace, and the database last."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distsync_sim.testing import free_port, isolated_vhost, port_open, wait_port
from shared.settings import DEFAULT_PORTS

pytestmark = pytest.mark.integration


def test_ctrl_c_stops_the_services_first_and_the_database_last(amqp_url, tmp_path: Path):
    if port_open("127.0.0.1", DEFAULT_PORTS["receipt"]):
        pytest.skip("port 8003 is taken: something else runs receipt here")
    if os.environ.get("MONGODB_URL"):
        pytest.skip("this test needs `distsync up` to start the embedded database itself")
    db_port, dlq_port = free_port(), free_port()
    with isolated_vhost(amqp_url) as url:
        env = dict(
            os.environ,
            AMQP_URL=url,
            DISTSYNC_DEV_MONGO_PORT=str(db_port),
            DISTSYNC_DEV_DLQ_PORT=str(dlq_port),
            DISTSYNC_LOG_JSON="false",
        )
        env.pop("MONGODB_URL", None)
        log = tmp_path / "up.log"
        with log.open("wb") as out:
            up = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "up", "--data-dir", str(tmp_path), "receipt"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal of its own: Ctrl-C reaches its group
            )
            try:
                assert wait_port("127.0.0.1", DEFAULT_PORTS["receipt"], 90), log.read_text()
                deadline = time.monotonic() + 60
                while b"service_started" not in log.read_bytes():
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
                t0 = time.monotonic()
                os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
                rc = up.wait(timeout=60)
                took = time.monotonic() - t0
            finally:
                if up.poll() is None:
                    os.killpg(up.pid, signal.SIGKILL)
    text = log.read_text()
    assert rc == 0, text
    assert "all stopped" in text, text
    assert "service_stopped" in text, text
    assert not re.search(r"\[(error|critical)", text), text  # no errors while stopping
    assert not port_open("127.0.0.1", db_port), "the database outlived `distsync up`"
    assert took < 30, f"stopping took {took:.1f} s"
