"""The services under test: spawned as subprocesses (with their own SecantusDB and vhost) or
found already running on 8001-8005 (the consuming services; the simulator publishes over AMQP
itself and leaves the ingress out). Spawned ones can be killed, restarted and measured."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from distsync_sim.testing import SecantusServer, free_port, port_open, wait_port
from shared.settings import DEFAULT_PORTS

# The services the simulator spawns, kills and checks: those that consume. It publishes as the
# source systems over AMQP itself, so the ingress (HTTP, files, EDI in front of the same
# exchanges) is not part of its cluster.
PUBLISH_ONLY = ("ingress",)
SERVICES = tuple(n for n in DEFAULT_PORTS if n not in PUBLISH_ONLY)


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the process's peak resident set size."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


@dataclass
class Proc:
    name: str  # instance name: the service, or "<service>#2" for a replica
    service: str
    port: int
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    kills: int = 0
    peak_rss_mb: float = 0.0
    _log: IO[bytes] | None = None
    _cpu_before: float = 0.0  # CPU seconds of the processes this instance ran before this one
    _cpu_now: float = 0.0  # of the current process, at the last sample

    @property
    def cpu_s(self) -> float:
        """CPU seconds over every process this instance ran, as of the last sample."""
        return self._cpu_before + self._cpu_now

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._cpu_before, self._cpu_now = self.cpu_s, 0.0
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run", self.service],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def sample_rss(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            rss = peak_rss_mb(self.popen.pid)
            if rss is not None:
                self.peak_rss_mb = max(self.peak_rss_mb, rss)
            cpu = cpu_seconds(self.popen.pid)
            if cpu is not None:
                self._cpu_now = cpu

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what was in flight is redelivered."""
        if self.popen is not None and self.popen.poll() is None:
            self.sample_rss()
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)
            self.kills += 1

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.sample_rss()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(40)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Cluster:
    """Where the services are and what the simulator may do to them."""

    amqp_url: str
    mongodb_url: str | None
    db_names: dict[str, str]
    urls: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)
    spawned: bool = False
    db_server: SecantusServer | None = None
    workdir: Path | None = None
    partitions: int = 1  # DISTSYNC_PARTITIONS of the spawned services

    def proc(self, service: str) -> Proc | None:
        return self.procs.get(service)

    def sample_rss(self) -> None:
        for p in self.procs.values():
            p.sample_rss()

    def dead(self) -> list[str]:
        return [p.name for p in self.procs.values() if p.popen is not None and not p.alive]

    def wait_ready(self, timeout: float = 90.0, names: list[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        if self.procs:
            todo = {n: self.procs[n].url for n in names or list(self.procs)}
        else:
            todo = {n: self.urls[n] for n in names or list(self.urls)}
        with httpx.Client(timeout=2) as c:
            while todo and time.monotonic() < deadline:
                for name, url in list(todo.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if c.get(url + "/readyz").status_code == 200:
                            del todo[name]
                dead = [n for n in todo if n in self.procs and not self.procs[n].alive]
                if dead:
                    raise RuntimeError(f"service(s) exited while starting: {', '.join(dead)}")
                time.sleep(0.2)
        if todo:
            raise RuntimeError(f"not ready within {timeout:.0f}s: {', '.join(todo)}")

    def restart(self, name: str) -> None:
        p = self.procs[name]
        p.restarts += 1
        p.start()

    def stop_all(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.stop()

    def stop_database(self) -> bool:
        if self.db_server is None:
            return False
        self.db_server.stop()
        return True

    def start_database(self) -> None:
        if self.db_server is not None:
            self.db_server.start()


def spawn(
    amqp_url: str,
    workdir: Path,
    run_id: str,
    *,
    replicas: dict[str, int] | None = None,
    extra_env: dict[str, str] | None = None,
    mongodb_url: str | None = None,
) -> Cluster:
    """SecantusDB (unless `mongodb_url`), topology, then every service as a subprocess."""
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    db_server = None
    if mongodb_url is None:
        storage = workdir / "secantus"
        storage.mkdir(exist_ok=True)
        db_server = SecantusServer(storage=str(storage)).start()
        mongodb_url = db_server.url
    base_env = dict(
        os.environ,
        AMQP_URL=amqp_url,
        MONGODB_URL=mongodb_url,
        DISTSYNC_LOG_LEVEL="WARNING",
        DISTSYNC_LOG_JSON="true",
        PYTHONUNBUFFERED="1",
        DISTSYNC_AUTH_MODE="open",  # a stack of its own on loopback, which it reads back
        **(extra_env or {}),
    )
    topo = subprocess.run(
        [sys.executable, "-m", "shared.cli", "topology", "apply", "--json"],
        env=base_env,
        capture_output=True,
        timeout=120,
    )
    if topo.returncode != 0:
        if db_server is not None:
            db_server.cleanup()
        raise RuntimeError(f"topology apply failed: {topo.stdout!r} {topo.stderr!r}")
    cluster = Cluster(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        db_names={s: f"sim_{run_id}_{s.replace('-', '_')}" for s in SERVICES},
        urls={},
        spawned=True,
        db_server=db_server,
        workdir=workdir,
        partitions=int((extra_env or {}).get("DISTSYNC_PARTITIONS", "1")),
    )
    for svc in SERVICES:
        for i in range((replicas or {}).get(svc, 1)):
            name = svc if i == 0 else f"{svc}#{i + 1}"
            port = free_port()
            env = dict(
                base_env,
                DISTSYNC_HTTP_PORT=str(port),
                DISTSYNC_MONGODB_DB=cluster.db_names[svc],
            )
            p = Proc(name, svc, port, env, workdir / "logs" / f"{name.replace('#', '-')}.log")
            p.start()
            cluster.procs[name] = p
            if i == 0:
                cluster.urls[svc] = p.url
    try:
        cluster.wait_ready()
    except Exception:
        cluster.stop_all()
        if db_server is not None:
            db_server.cleanup()
        raise
    return cluster


def attach(amqp_url: str, mongodb_url: str | None) -> Cluster:
    """The services `make run` started on 8001-8005, with their default database names."""
    return Cluster(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        db_names={s: "distsync_" + s.replace("-", "_") for s in SERVICES},
        urls={s: f"http://127.0.0.1:{DEFAULT_PORTS[s]}" for s in SERVICES},
    )


def services_answer() -> bool:
    """Does anything answer on the default port of every service the simulator uses?"""
    return all(port_open("127.0.0.1", DEFAULT_PORTS[s], 0.3) for s in SERVICES)


def broker_is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost") and shutil.which("rabbitmqctl") is not None


def restart_broker(down_s: float, url: str = "amqp://127.0.0.1:5672/") -> float:
    """`rabbitmqctl stop_app`, wait, `start_app` on the node the environment names
    (RABBITMQ_NODENAME, as rabbitmqctl reads it; the local default node without it), then
    wait for `url`'s port; returns how long AMQP was unreachable."""
    t0 = time.monotonic()
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True)
    time.sleep(down_s)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "await_startup"], check=False, capture_output=True, timeout=120
    )
    parts = urlsplit(url)
    wait_port(parts.hostname or "127.0.0.1", parts.port or 5672, 60)
    return time.monotonic() - t0
