"""Property-based HTTP tests: schemathesis against every running service finds no 5xx.

The services run for real (broker, database, HTTP) in a background event loop, so schemathesis'
synchronous pytest integration can call them. Each operation of each committed OpenAPI document
becomes one test: schemathesis' examples, coverage (boundary and invalid values) and fuzzing
phases, at most `MAX_EXAMPLES` generated cases each.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from shared.settings import DEFAULT_PORTS
from tests.contracts.flows import ids, order_flow, receipt_flow
from tests.e2e.harness import Cluster, eventually, get_json

pytestmark = pytest.mark.e2e

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "docs" / "openapi"
MAX_EXAMPLES = 30


class BackgroundCluster:
    """A `Cluster` of all five services on an event loop of its own, in a thread."""

    def __init__(self, amqp_url: str, mongodb_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.cluster = Cluster(amqp_url, mongodb_url)

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> dict[str, str]:
        self.thread.start()
        self.run(self.cluster.apply_topology())
        running = self.run(self.cluster.start(*DEFAULT_PORTS))
        self.run(self._seed(running))
        return {name: r.url for name, r in running.items()}

    async def _seed(self, running: dict[str, Any]) -> None:
        """Some data first, so that lookups and lists also answer with real documents."""
        order = await order_flow(self.cluster, ids("ORD"))
        await receipt_flow(self.cluster, ids("PO"))
        await eventually(lambda: get_json(running["order-status"], f"/v1/orders/{order['order']}"))

    def stop(self) -> None:
        try:
            self.run(self.cluster.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


@pytest.fixture(scope="module")
def live(amqp_url: str, mongodb_url: str) -> Iterator[dict[str, str]]:
    bg = BackgroundCluster(amqp_url, mongodb_url)
    try:
        yield bg.start()
    finally:
        bg.stop()


def no_server_error_test(service: str) -> Callable[..., None]:
    """The schemathesis test of one service: every operation of its committed document."""
    schema = schemathesis.openapi.from_path(OPENAPI_DIR / f"{service}.json")

    @schema.parametrize()
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case: schemathesis.Case, live: dict[str, str]) -> None:
        case.call_and_validate(base_url=live[service], timeout=10, checks=[not_a_server_error])

    test.__name__ = f"test_{service.replace('-', '_')}_answers_no_5xx"
    return test


test_availability_answers_no_5xx = no_server_error_test("availability")
test_order_status_answers_no_5xx = no_server_error_test("order-status")
test_receipt_answers_no_5xx = no_server_error_test("receipt")
test_returns_answers_no_5xx = no_server_error_test("returns")
test_carrier_tracking_answers_no_5xx = no_server_error_test("carrier-tracking")


def test_every_service_serves_the_committed_openapi_document(live: dict[str, str]) -> None:
    assert set(live) == set(DEFAULT_PORTS)
    for name, url in live.items():
        served = httpx.get(f"{url}/openapi.json", timeout=10).json()
        committed = json.loads((OPENAPI_DIR / f"{name}.json").read_text())
        assert served == committed, (
            f"{name} serves an OpenAPI different from docs/openapi/{name}.json"
        )
