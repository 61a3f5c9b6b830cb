"""House rules: pure domain modules, and the service's declared routes and publications."""

from __future__ import annotations

import ast
from pathlib import Path

import returns
from returns.main import SERVICE

BANNED = ("aio_pika", "pymongo", "motor", "structlog", "prometheus_client", "fastapi", "bson")
PURE = ("domain.py", "state.py", "pending.py", "messages.py")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_no_infrastructure_libraries():
    src = Path(returns.__file__).parent
    for name in PURE:
        imported = imported_modules(src / name)
        bad = {m for m in imported if m.split(".")[0] in BANNED}
        assert bad == set(), f"{name} imports {bad}"
        shared_io = {
            m
            for m in imported
            if m.startswith("shared.") and m not in ("shared.errors", "shared.bounds")
        }
        assert shared_io == set(), f"{name} imports {shared_io}"


def test_service_consumes_returns_from_erp_commerce_and_wms():
    assert set(SERVICE.bindings()) == {
        ("erp.events", "return.authorized"),
        ("commerce.events", "return.authorized"),
        ("wms.events", "return.received"),
        ("wms.events", "return.inspected"),
    }


def test_service_publishes_the_four_contract_events_on_returns_events():
    assert SERVICE.exchange == "returns.events"
    assert {p.type for p in SERVICE.publishes} == {
        "return.status_changed",
        "return.stock_received",
        "return.stock_dispositioned",
        "returns.pending_changed",
    }
    # its own sweep, plus the DLQ-age gauge every service gets from shared.service
    assert [t.name for t in SERVICE.periodic] == ["returns-expiry-sweep", "dlq_age_gauge"]
