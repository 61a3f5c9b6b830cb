"""Fixtures for cross-service tests (root conftest.py provides the servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.harness import Cluster


@pytest.fixture
async def cluster(amqp_url: str, mongodb_url: str) -> AsyncIterator[Cluster]:
    c = Cluster(amqp_url, mongodb_url)
    await c.apply_topology()
    yield c
    await c.stop()
