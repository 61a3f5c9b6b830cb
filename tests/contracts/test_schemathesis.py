"""Property-based HTTP tests: schemathesis against every running service finds no 5xx."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from shared.settings import DEFAULT_PORTS

from tests.contracts.flows import ids, order_flow, receipt_flow
from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "docs" / "openapi"
MAX_EXAMPLES = 30  # per operation and generation mode: keeps the whole run well under a minute


@dataclass
class ServerError:
    service: str
    operation: str
    mode: str
    status: int
    request: str
    body: str

    def __str__(self) -> str:
        return f"{self.service} {self.operation} ({self.mode}) -> {self.status}: {self.request}\n  {self.body[:300]}"


def fuzz_operation(
    service: str, base_url: str, operation, mode: GenerationMode
) -> tuple[list[ServerError], int]:
    """Hypothesis drives one operation in one generation mode; the shrunk 5xx, if any."""
    seen: list[ServerError] = []
    calls = 0

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, timeout=10)
        if response.status_code >= 500:
            err = ServerError(
                service,
                operation.label,
                mode.value,
                response.status_code,
                case.as_curl_command(),
                response.text,
            )
            seen[:] = [err]  # the last one is the shrunk, smallest failing request
            raise AssertionError(str(err))

    try:
        call()
    except AssertionError:
        return seen, calls
    except Unsatisfiable:
        pass  # e.g. no invalid input exists for an operation without parameters
    return [], calls


def fuzz(service: str, base_url: str) -> tuple[list[ServerError], int]:
    """Every operation with valid and invalid data; the 5xx seen and how many calls were made."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    errors: list[ServerError] = []
    calls = 0
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found, n = fuzz_operation(service, base_url, result.ok(), mode)
            errors += found
            calls += n
    return errors, calls


async def test_schemathesis_finds_no_server_error_on_any_service(cluster):
    running = await cluster.start(*DEFAULT_PORTS)
    # Some data first, so that lookups and lists also answer with real documents.
    order = await order_flow(cluster, ids("ORD"))
    await receipt_flow(cluster, ids("PO"))
    await eventually(lambda: get_json(running["order-status"], f"/v1/orders/{order['order']}"))

    failures: list[ServerError] = []
    for name, r in running.items():
        async with httpx.AsyncClient(base_url=r.url, timeout=10) as c:
            served = (await c.get("/openapi.json")).json()
        committed = json.loads((OPENAPI_DIR / f"{name}.json").read_text())
        assert served == committed, (
            f"{name}: the served OpenAPI differs from docs/openapi/{name}.json"
        )
        errors, calls = await asyncio.to_thread(fuzz, name, r.url)
        assert calls > 0, name
        failures.extend(errors)
    assert not failures, "server errors:\n" + "\n".join(map(str, failures))
