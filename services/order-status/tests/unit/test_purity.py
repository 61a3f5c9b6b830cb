"""House rule: the domain is pure; it imports no broker, database, log, metric or web library."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

FORBIDDEN = {"aio_pika", "pymongo", "motor", "bson", "structlog", "prometheus_client", "fastapi"}
PURE = ("domain", "fold", "rollup", "views", "messages", "mappings")


def module_file(name: str) -> Path | None:
    """The source file of an order_status or shared module; None for anything else."""
    if name.split(".")[0] not in ("order_status", "shared"):
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def imports_of(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def transitive_imports(start: str) -> set[str]:
    found: set[str] = set()
    visited: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in visited:
            continue
        visited.add(name)
        path = module_file(name)
        if path is not None:
            new = imports_of(path)
            found |= new
            todo.extend(new)
    return found


def test_domain_imports_no_broker_database_logging_metrics_or_web_library() -> None:
    for mod in PURE:
        roots = {name.split(".")[0] for name in transitive_imports(f"order_status.{mod}")}
        assert not roots & FORBIDDEN, (mod, roots & FORBIDDEN)
        assert "order_status.handlers" not in transitive_imports(f"order_status.{mod}")


def test_the_import_check_sees_through_modules_to_their_imports() -> None:
    roots = {name.split(".")[0] for name in transitive_imports("order_status.handlers")}
    assert "prometheus_client" in roots
