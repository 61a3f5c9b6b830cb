"""Shared pytest fixtures: real RabbitMQ and a MongoDB-wire server (see distsync_sim.testing)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from distsync_sim.testing import SecantusServer, amqp_server, isolated_vhost, mongodb_server

# Imported before any test is collected: pytest's importlib mode names a test file under
# shared/tests `shared.tests....` and, unless the real `shared` is already loaded, puts an empty
# stand-in for `shared` in its place.
from shared.runtime import mongo_client


@pytest.fixture(scope="session")
def amqp_base_url() -> Iterator[str]:
    with amqp_server() as url:
        yield url


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[tuple[str, SecantusServer | None]]:
    with mongodb_server() as pair:
        yield pair


@pytest.fixture(scope="session")
def mongodb_url(mongo_server: tuple[str, SecantusServer | None]) -> str:
    return mongo_server[0]


@pytest.fixture(scope="module")
def amqp_url(amqp_base_url: str) -> Iterator[str]:
    """A vhost of its own per test module, so fixed queue names never collide."""
    with isolated_vhost(amqp_base_url) as url:
        yield url


@pytest.fixture
def db_name() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
async def mongo(mongodb_url: str) -> AsyncIterator[Any]:
    client = mongo_client(mongodb_url)
    yield client
    await client.close()
