"""`distsync up` / `make run`: SecantusDB (unless MONGODB_URL is set), every service of
shared.service.SERVICE_TABLE (8001-8006, the ingress last) and the DLQ admin API, the latter as
an explicit laptop run (`--insecure-local`: no token, loopback).
Authentication is off (`DISTSYNC_AUTH_MODE=open`, said loudly at start) unless the environment
sets a mode, which the services and the DLQ API then use.

While they run, `<data dir>/stack.json` says where (`distsync_ops.stack`), so that the tools
started beside it (`distsync dlq ...`, `distsync trace`) find them with no environment variable.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from distsync_ops.stack import remove_stack, write_stack
from shared.settings import DEFAULT_PORTS

DLQ_API_PORT = int(os.environ.get("DISTSYNC_DEV_DLQ_PORT", "8090"))
OPEN_WARNING = """
*****************************************************************************************
*  AUTHENTICATION IS OFF (DISTSYNC_AUTH_MODE=open): a laptop run. Every HTTP API on this   *
*  machine answers anyone who can reach it. Never run like this anywhere else; set        *
*  DISTSYNC_AUTH_MODE (jwt, api_keys, jwt+api_keys) to try authentication locally.        *
*****************************************************************************************
"""


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _secantus_cmd() -> list[str]:
    if importlib.util.find_spec("secantus") is None:
        raise SystemExit(
            "MONGODB_URL is not set and SecantusDB is not installed: run `uv sync` (dev group)"
        )
    return [sys.executable, "-m", "distsync_sim.secantus_launch"]


def _stop(p: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM (if still running), wait, then SIGKILL."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()


def run_all(data_dir: str = ".data", services: list[str] | None = None) -> int:
    names = services or list(DEFAULT_PORTS)
    unknown = [n for n in names if n not in DEFAULT_PORTS]
    if unknown:
        known = ", ".join(DEFAULT_PORTS)
        print(f"unknown service(s) {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []  # the services
    db: subprocess.Popen[bytes] | None = None  # SecantusDB, when we started it
    if not env.get("MONGODB_URL"):
        port = int(env.get("DISTSYNC_DEV_MONGO_PORT", "27117"))
        path = Path(data_dir) / "secantus"
        path.mkdir(parents=True, exist_ok=True)
        print(f"starting SecantusDB on 127.0.0.1:{port}, data in {path}", flush=True)
        db = subprocess.Popen(
            [
                *_secantus_cmd(),
                "--port",
                str(port),
                "--storage-path",
                str(path),
                "--log-level",
                "WARNING",
            ],
            # its own session: the terminal's Ctrl-C goes to this process group only, so the
            # database is not stopped under the services but after them (`finally` below)
            start_new_session=True,
        )
        if not _wait_port(port, 30):
            db.terminate()
            print("SecantusDB did not start", file=sys.stderr)
            return 1
        env["MONGODB_URL"] = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    if not env.get("DISTSYNC_AUTH_MODE"):
        env["DISTSYNC_AUTH_MODE"] = "open"
    if env["DISTSYNC_AUTH_MODE"] == "open":
        print(OPEN_WARNING, file=sys.stderr, flush=True)
    env.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    env.setdefault("DISTSYNC_LOG_JSON", "true")
    topo = subprocess.run([sys.executable, "-m", "shared.cli", "topology", "apply"], env=env)
    if topo.returncode != 0:
        print("topology apply failed (is RabbitMQ running?)", file=sys.stderr)
        _stop(db, 15)
        return 1
    for name in names:
        e = dict(env, DISTSYNC_HTTP_PORT=str(DEFAULT_PORTS[name]))
        procs.append(subprocess.Popen([sys.executable, "-m", "shared.cli", "run", name], env=e))
        print(f"started {name} on http://127.0.0.1:{DEFAULT_PORTS[name]}", flush=True)
    # not watched like the services: a busy port 8090 leaves the services running without it
    dlq_api = subprocess.Popen(
        [
            *(sys.executable, "-m", "shared.cli", "dlq", "serve"),
            *("--insecure-local", "--host", "127.0.0.1", "--port", str(DLQ_API_PORT)),
        ],
        env=env,
    )
    stack_file = write_stack(
        data_dir,
        amqp_url=env["AMQP_URL"],
        mongodb_url=env.get("MONGODB_URL", ""),
        services={n: f"http://127.0.0.1:{DEFAULT_PORTS[n]}" for n in names},
        dlq_api=f"http://127.0.0.1:{DLQ_API_PORT}",
    )
    try:
        rc = _watch(procs, db)
    finally:
        remove_stack(stack_file)
        for p in [*procs, dlq_api]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*procs, dlq_api]:
            _stop(p, 30)
        _stop(db, 15)  # the database last, once the services have drained
    print("all stopped", flush=True)
    return rc


def _watch(procs: list[subprocess.Popen[bytes]], db: subprocess.Popen[bytes] | None) -> int:
    """Until Ctrl-C or SIGTERM (0), or until a service or the database exits (1)."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    rc = 0
    while not stopping:
        for p in [*procs, *([db] if db else [])]:
            if p.poll() is not None:
                print(f"process {p.args!r} exited with {p.returncode}", file=sys.stderr)
                stopping, rc = True, 1
        time.sleep(0.3)
    return rc


def cmd_up(args: argparse.Namespace) -> int:
    return run_all(data_dir=args.data_dir, services=args.services or None)


def register(sub: Any) -> None:
    u = sub.add_parser("up", help="run all services locally (what `make run` does)")
    u.add_argument("--data-dir", default=".data")
    u.add_argument("services", nargs="*")
    u.set_defaults(fn=cmd_up)
