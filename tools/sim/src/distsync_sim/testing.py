"""Test harness: finds or starts the real servers integration tests use.

Order: `AMQP_URL` / `MONGODB_URL` when set; testcontainers when a Docker engine answers;
otherwise the local RabbitMQ on 127.0.0.1:5672 and an embedded SecantusDB started here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from shared.auth import AuthSettings


def open_auth() -> AuthSettings:
    """Authentication settings for a test stack that runs open (`DISTSYNC_AUTH_MODE=open`):
    the services log a loud warning at start. Tests of authentication pass their own."""
    from shared.auth import AuthSettings

    return AuthSettings(mode="open")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.05)
    return False


def docker_available() -> bool:
    if not shutil.which("docker") and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


# the server with a GC policy that keeps its pauses short (see distsync_sim.secantus_launch)
SECANTUS_CMD = [sys.executable, "-m", "distsync_sim.secantus_launch"]


class SecantusServer:
    """An embedded MongoDB-wire server in its own process (faster than in-process)."""

    def __init__(self, storage: str | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self._tmp = None if storage else tempfile.TemporaryDirectory(prefix="secantus-")
        self.storage = storage or (self._tmp.name if self._tmp else "")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> SecantusServer:
        if importlib.util.find_spec("secantus") is None:
            raise RuntimeError("SecantusDB is not installed: run `uv sync` (dev dependencies)")
        log = open(Path(self.storage).parent / f"secantus-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [
                *SECANTUS_CMD,
                "--port",
                str(self.port),
                "--storage-path",
                self.storage,
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not wait_port("127.0.0.1", self.port, 60):
            self.stop()
            raise RuntimeError("SecantusDB did not start within 60 s")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def cleanup(self) -> None:
        self.stop()
        if self._tmp:
            with contextlib.suppress(Exception):
                self._tmp.cleanup()


@contextlib.contextmanager
def mongodb_server() -> Iterator[tuple[str, SecantusServer | None]]:
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url, None
        return
    if docker_available():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:8.0").with_command("--replSet rs0 --bind_ip_all") as c:
            host, port = c.get_container_host_ip(), c.get_exposed_port(27017)
            _initiate_replset(host, int(port))
            yield f"mongodb://{host}:{port}/?directConnection=true", None
        return
    srv = SecantusServer().start()
    try:
        yield srv.url, srv
    finally:
        srv.cleanup()


def _initiate_replset(host: str, port: int) -> None:
    from pymongo import MongoClient

    c: MongoClient[Any] = MongoClient(host, port, directConnection=True)
    with contextlib.suppress(Exception):
        c.admin.command(
            "replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]}
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if c.admin.command("hello").get("isWritablePrimary"):
            break
        time.sleep(0.2)


@contextlib.contextmanager
def amqp_server() -> Iterator[str]:
    url = os.environ.get("AMQP_URL")
    if url:
        yield url
        return
    if not port_open("127.0.0.1", 5672) and docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:4-management") as c:
            host, port = c.get_container_host_ip(), c.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}/"
        return
    if not port_open("127.0.0.1", 5672):
        raise RuntimeError(
            "no RabbitMQ: set AMQP_URL, start a Docker engine, or run `rabbitmq-server -detached`"
        )
    yield "amqp://guest:guest@127.0.0.1:5672/"


def rabbitmqctl_usable(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost") and shutil.which("rabbitmqctl") is not None


@contextlib.contextmanager
def isolated_vhost(url: str) -> Iterator[str]:
    """A throwaway vhost on a local broker (via rabbitmqctl); else the URL as given."""
    if not rabbitmqctl_usable(url):
        yield url
        return
    parts = urlsplit(url)
    user = parts.username or "guest"
    name = f"distsync-test-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)
