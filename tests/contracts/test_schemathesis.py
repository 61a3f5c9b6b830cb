"""Property-based HTTP tests: schemathesis against every running service finds no 5xx.

The services run for real (broker, database, HTTP) in a background event loop, so schemathesis'
synchronous pytest integration can call them. Each operation of each committed OpenAPI document
becomes one test: schemathesis' examples, coverage (boundary and invalid values) and fuzzing
phases, at most `MAX_EXAMPLES` generated cases each. Every answer must be no 5xx and match the
document (status code, JSON shape, the `{"detail", "errors"}` shape of errors).

The carrier webhook is fuzzed past its signature check: each generated push is signed with the
secret of the carrier whose shape it most resembles, so the parsers see the generated bodies.

The services run with authentication on (API keys): every operation is fuzzed with a key that
holds every read scope, and again, with fewer cases, without credentials, when no operation that
needs a scope may answer 2xx (the carrier webhook, which has its own signatures, excepted).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core import NotSet

from carrier_tracking.webhooks import SIGNATURE_HEADER, sign
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.auth.scopes import SERVICE_READ_SCOPES
from shared.settings import DEFAULT_PORTS
from tests.contracts.flows import ids, order_flow, receipt_flow
from tests.e2e.harness import Cluster, eventually, get_json

pytestmark = pytest.mark.e2e

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "docs" / "openapi"
MAX_EXAMPLES = 100
MAX_EXAMPLES_WITHOUT_CREDENTIALS = 25
API_KEY = "schemathesis-" + "f" * 48
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
WEBHOOK_SECRETS = {c: f"{c}-fuzz-secret" for c in ("ups", "fedex", "dhl", "usps", "generic")}
# the member that only one carrier's shape has, and so names the carrier to sign for
SHAPE_MEMBERS = {
    "activityStatus": "ups",
    "scanEvents": "fedex",
    "shipments": "dhl",
    "trackingEvents": "usps",
    "events": "generic",
}


def date_times() -> st.SearchStrategy[str]:
    """RFC 3339 times: recent ones (so that pushes are accepted), ones on the first and last day
    of the calendar with offsets that often take them past its ends in UTC, and any at all."""
    minus_5, plus_1 = timezone(-timedelta(hours=5)), timezone(timedelta(hours=1))
    west, east = timezone(-timedelta(hours=23, minutes=59)), timezone(timedelta(hours=14))
    now = datetime.now(UTC).replace(tzinfo=None)
    recent = st.datetimes(now - timedelta(days=30), now, timezones=st.just(UTC))
    first_day = st.datetimes(
        datetime(1, 1, 1), datetime(1, 1, 1, 12), timezones=st.sampled_from([UTC, plus_1, east])
    )
    last_day = st.datetimes(
        datetime(9999, 12, 31, 12),
        datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.sampled_from([UTC, minus_5, west]),
    )
    anything = st.datetimes(timezones=st.sampled_from([UTC, minus_5, plus_1, west, east]))
    return st.one_of(recent, first_day, last_day, anything).map(datetime.isoformat)


schemathesis.openapi.format("date-time", date_times())


class BackgroundCluster:
    """A `Cluster` of all five services on an event loop of its own, in a thread."""

    def __init__(self, amqp_url: str, mongodb_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.keys = tempfile.NamedTemporaryFile("w", suffix=".json")
        entry = {
            "client": "fuzz",
            "sha256": digest(API_KEY),
            "scopes": [*SERVICE_READ_SCOPES.values()],
        }
        self.keys.write(json.dumps([entry]))
        self.keys.flush()
        auth = AuthSettings(
            mode="api_keys", api_keys_file=self.keys.name, throttle_rate=1e6, throttle_burst=10**6
        )
        self.cluster = Cluster(
            amqp_url, mongodb_url, auth=auth, client_headers={"X-API-Key": API_KEY}
        )

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> dict[str, str]:
        self.thread.start()
        self.run(self.cluster.apply_topology())
        secrets = {"carrier_tracking_webhook_secrets": WEBHOOK_SECRETS}
        running = self.run(self.cluster.start(*DEFAULT_PORTS, **{"carrier-tracking": secrets}))
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
            self.keys.close()


@pytest.fixture(scope="module")
def live(amqp_url: str, mongodb_url: str) -> Iterator[dict[str, str]]:
    bg = BackgroundCluster(amqp_url, mongodb_url)
    try:
        yield bg.start()
    finally:
        bg.stop()


def nothing_without_credentials(ctx: Any, response: Any, case: schemathesis.Case) -> None:
    """An operation that needs a scope answers no 2xx to a caller without credentials."""
    if case.operation.definition.raw.get("security") and 200 <= response.status_code < 300:
        raise AssertionError(f"{case.operation.label} answered {response.status_code} to nobody")


def no_server_error_test(service: str, *, credentials: bool = True) -> Callable[..., None]:
    """The schemathesis test of one service: every operation of its committed document."""
    schema = schemathesis.openapi.from_path(OPENAPI_DIR / f"{service}.json")
    schema.hook("flatmap_query")(from_the_first_page)
    headers = {"X-API-Key": API_KEY} if credentials else {}
    checks = CHECKS if credentials else [*CHECKS, nothing_without_credentials]
    examples = MAX_EXAMPLES if credentials else MAX_EXAMPLES_WITHOUT_CREDENTIALS

    @schema.parametrize()
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case: schemathesis.Case, live: dict[str, str]) -> None:
        if case.path == "/v1/webhooks/{carrier}":
            call_webhook_signed(case, live[service])
        else:
            case.call_and_validate(
                base_url=live[service], timeout=10, checks=checks, headers=headers
            )

    suffix = "" if credentials else "_without_credentials"
    test.__name__ = f"test_{service.replace('-', '_')}_answers_no_5xx{suffix}"
    return test


def from_the_first_page(context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """A generated cursor is never one the service handed out (422 before any query): half of
    the cases go without it, so that the other parameters reach the database."""
    if not query or "cursor" not in query:
        return st.just(query)
    return st.sampled_from([query, {k: v for k, v in query.items() if k != "cursor"}])


def call_webhook_signed(case: schemathesis.Case, base_url: str) -> None:
    """Sends the generated push to the carrier its shape belongs to, signed with its secret."""
    body = case.body if isinstance(case.body, dict) else {}
    carrier = next((c for m, c in SHAPE_MEMBERS.items() if m in body), "ups")
    case.path_parameters = {**(case.path_parameters or {}), "carrier": carrier}
    if isinstance(case.body, NotSet):
        raw = b""
    elif isinstance(case.body, (bytes, str)):
        raw = case.body.encode() if isinstance(case.body, str) else case.body
    else:
        raw = json.dumps(case.body).encode()
    headers = {SIGNATURE_HEADER: sign(WEBHOOK_SECRETS[carrier], raw)}
    case.call_and_validate(base_url=base_url, timeout=10, checks=CHECKS, headers=headers, data=raw)


test_availability_answers_no_5xx = no_server_error_test("availability")
test_order_status_answers_no_5xx = no_server_error_test("order-status")
test_receipt_answers_no_5xx = no_server_error_test("receipt")
test_returns_answers_no_5xx = no_server_error_test("returns")
test_carrier_tracking_answers_no_5xx = no_server_error_test("carrier-tracking")
test_availability_answers_no_5xx_without_credentials = no_server_error_test(
    "availability", credentials=False
)
test_order_status_answers_no_5xx_without_credentials = no_server_error_test(
    "order-status", credentials=False
)
test_receipt_answers_no_5xx_without_credentials = no_server_error_test("receipt", credentials=False)
test_returns_answers_no_5xx_without_credentials = no_server_error_test("returns", credentials=False)
test_carrier_tracking_answers_no_5xx_without_credentials = no_server_error_test(
    "carrier-tracking", credentials=False
)


def test_every_service_serves_the_committed_openapi_document(live: dict[str, str]) -> None:
    assert set(live) == set(DEFAULT_PORTS)
    for name, url in live.items():
        served = httpx.get(f"{url}/openapi.json", timeout=10).json()
        committed = json.loads((OPENAPI_DIR / f"{name}.json").read_text())
        assert served == committed, (
            f"{name} serves an OpenAPI different from docs/openapi/{name}.json"
        )


def test_the_fuzzing_key_reads_and_no_credentials_read_nothing(live: dict[str, str]) -> None:
    url = f"{live['order-status']}/v1/orders"
    assert httpx.get(url, headers={"X-API-Key": API_KEY}, timeout=10).status_code == 200
    r = httpx.get(url, timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
