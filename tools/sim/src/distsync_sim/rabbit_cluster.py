"""A real three-node RabbitMQ cluster on this machine, for failover tests.

The nodes are a cluster of their own (`dsc<random>-<i>@localhost`), never joined to the machine's
`rabbit@localhost`: each has its own AMQP and distribution ports, its own config, plugins file,
environment file, data and log folders and Erlang cookie (HOME), all under one temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from distsync_sim.testing import free_port, wait_port

# the plugins deploy/k8s/base/rabbitmq/rabbitmqcluster.yaml enables (`additionalPlugins`)
PLUGINS = ("rabbitmq_prometheus",)
StopHow = Literal["stop_app", "kill"]


def bin_dir() -> Path | None:
    """Where the unwrapped RabbitMQ scripts are: Debian's /usr/sbin wrappers switch to the
    rabbitmq user (and its cookie) when run as root, so the real ones are called instead."""
    for d in (os.environ.get("RABBITMQ_BIN_DIR"), "/usr/lib/rabbitmq/bin"):
        if d and (Path(d) / "rabbitmq-server").is_file():
            return Path(d)
    found = shutil.which("rabbitmq-server")
    return Path(found).resolve().parent if found else None


@dataclass
class Node:
    """One node: its name, ports and folder."""

    index: int
    name: str
    amqp_port: int
    dist_port: int
    prometheus_port: int
    base: Path
    state: Literal["running", "app_stopped", "killed"] = "running"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"


@dataclass
class RabbitCluster:
    """Three nodes clustered together; `.url` is the comma list the services take."""

    root: Path
    bin: Path
    nodes: list[Node] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        return ",".join(self.urls)

    def env(self, node: Node | None = None) -> dict[str, str]:
        """The environment a server or CLI call runs with: our cookie, nothing from /etc."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env["HOME"] = str(self.root)
        env["RABBITMQ_CONF_ENV_FILE"] = str(self.root / "rabbitmq-env.conf")
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = str(self.root / "enabled_plugins")
        if node is not None:
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_NODE_PORT=str(node.amqp_port),
                RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_CONFIG_FILE=str(node.base / "rabbitmq.conf"),
                RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"),
                RABBITMQ_LOG_BASE=str(node.base / "log"),
                RABBITMQ_PID_FILE=str(node.base / "node.pid"),
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            )
        return env

    def ctl(self, node: Node, *args: str, timeout: float = 60) -> str:
        """Run `rabbitmqctl -n <node> ...` and return its output; raise with it on failure."""
        p = subprocess.run(
            [str(self.bin / "rabbitmqctl"), "-q", "-n", node.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if p.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {node.name}: {p.stderr or p.stdout}"
            )
        return p.stdout

    def ctl_json(self, node: Node, *args: str) -> Any:
        return json.loads(self.ctl(node, *args, "--formatter", "json"))

    def running_nodes(self, via: int = 0) -> list[str]:
        """The cluster's running nodes as node `via` sees them."""
        status = self.ctl_json(self.nodes[via], "cluster_status")
        return sorted(status["running_nodes"])

    def add_vhost(self, name: str | None = None) -> str:
        """A new vhost open to guest; returns the comma list of URLs that point at it."""
        name = name or f"t-{secrets.token_hex(5)}"
        node = next(n for n in self.nodes if n.state == "running")
        self.ctl(node, "add_vhost", name)
        self.ctl(node, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return ",".join(f"{u}{quote(name, safe='')}" for u in self.urls)

    def queue_members(self, vhost: str, queue: str, via: int = 0) -> list[str]:
        """The nodes a quorum queue has members on."""
        rows = self.ctl_json(self.nodes[via], "list_queues", "-p", vhost, "name", "members")
        return sorted(next(r["members"] for r in rows if r["name"] == queue))

    def ensure_running(self) -> None:
        """Start again every node a test left stopped, so the next test finds three."""
        for node in self.nodes:
            if node.state != "running":
                self.start_node(node.index - 1)

    def _launch(self, node: Node) -> None:
        """`rabbitmq-server -detached`, then wait until the node and its listener are up."""
        subprocess.run(
            [str(self.bin / "rabbitmq-server"), "-detached"],
            env=self.env(node),
            cwd=node.base,
            check=True,
            capture_output=True,
            timeout=60,
        )
        self._await(node)

    def _await(self, node: Node) -> None:
        """The AMQP listener opens last in a node's boot; the CLI then confirms it is up."""
        if not wait_port("127.0.0.1", node.amqp_port, 90):
            raise RuntimeError(f"{node.name} does not listen on {node.amqp_port}: see {node.base}")
        self.ctl(node, "await_startup", "--timeout", "60", timeout=70)

    def _timed(self, step: str, fn: Any, *args: Any) -> None:
        t0 = time.monotonic()
        fn(*args)
        self.timings[step] = round(time.monotonic() - t0, 2)

    def start(self, size: int = 3) -> RabbitCluster:
        """Start `size` nodes at once, then join nodes 2.. to node 1 (`stop_app`,
        `join_cluster`, `start_app`)."""
        t0 = time.monotonic()
        (self.root / "rabbitmq-env.conf").write_text("# distsync test cluster: nothing from /etc\n")
        (self.root / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
        cookie = self.root / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
        prefix = f"dsc{secrets.token_hex(3)}"
        for i in range(1, size + 1):
            base = self.root / f"node{i}"
            (base / "log").mkdir(parents=True)
            node = Node(i, f"{prefix}-{i}@localhost", free_port(), free_port(), free_port(), base)
            (base / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}\n"
                f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {node.prometheus_port}\n"
                "loopback_users.guest = true\n"
            )
            self.nodes.append(node)
        with ThreadPoolExecutor(size) as pool:
            list(pool.map(self._launch, self.nodes))
            self.timings["boot"] = round(time.monotonic() - t0, 2)
            # stop_app takes ~5 s per node: the nodes that join stop theirs at once
            t1 = time.monotonic()
            list(pool.map(lambda n: self.ctl(n, "stop_app"), self.nodes[1:]))
            self.timings["stop_app"] = round(time.monotonic() - t1, 2)
        for node in self.nodes[1:]:
            self._timed(f"join_{node.index}", self._join, node)
        self.timings["total"] = round(time.monotonic() - t0, 2)
        return self

    def _join(self, node: Node) -> None:
        self.ctl(node, "join_cluster", self.nodes[0].name)
        self.ctl(node, "start_app")
        self._await(node)

    def stop_node(self, i: int, how: StopHow = "stop_app") -> float:
        """Take node `i` (0-based) away: `stop_app` closes its listener and every connection
        (the Erlang VM stays, as on a graceful shutdown); `kill` SIGKILLs the VM (a crash).
        Returns the seconds it took."""
        node, t0 = self.nodes[i], time.monotonic()
        if how == "kill":
            self._kill(node)
            node.state = "killed"
        else:
            self.ctl(node, "stop_app")
            node.state = "app_stopped"
        return time.monotonic() - t0

    def start_node(self, i: int) -> float:
        """Bring node `i` back into the cluster; returns the seconds it took."""
        node, t0 = self.nodes[i], time.monotonic()
        if node.state == "killed":
            self._launch(node)
        elif node.state == "app_stopped":
            self.ctl(node, "start_app")
            self._await(node)
        node.state = "running"
        return time.monotonic() - t0

    def _kill(self, node: Node) -> None:
        pid_file = node.base / "node.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill every node and remove the folder: nothing of the cluster survives a test run."""
        for node in self.nodes:
            self._kill(node)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(size: int = 3) -> RabbitCluster:
    """A started cluster; the caller calls `.stop()` (or use `rabbit_cluster()`)."""
    found = bin_dir()
    if found is None:
        raise RuntimeError("rabbitmq-server is not installed")
    cluster = RabbitCluster(Path(tempfile.mkdtemp(prefix="dsc-")), found)
    try:
        return cluster.start(size)
    except BaseException:
        cluster.stop()
        raise


@contextlib.contextmanager
def rabbit_cluster(size: int = 3) -> Iterator[RabbitCluster]:
    """A cluster for the duration of the block, torn down after it."""
    cluster = start_cluster(size)
    try:
        yield cluster
    finally:
        cluster.stop()
