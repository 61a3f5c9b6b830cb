"""The domain stays pure: no broker, database, logging, metrics or web framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import receipt

FORBIDDEN = (
    "aio_pika",
    "aiormq",
    "pymongo",
    "motor",
    "bson",
    "structlog",
    "prometheus_client",
    "fastapi",
    "starlette",
)
PURE = ("domain", "receiving", "lifecycle", "recheck", "inbound", "policy", "messages")
SRC = Path(receipt.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_modules_import_none_of_the_infrastructure_libraries():
    for mod in PURE:
        bad = {n for n in _imports(SRC / f"{mod}.py") if n.split(".")[0] in FORBIDDEN}
        bad |= {
            n
            for n in _imports(SRC / f"{mod}.py")
            if n.startswith("shared.") and n not in ("shared.errors", "shared.bounds")
        }
        assert not bad, f"receipt.{mod} imports {sorted(bad)}"


def test_importing_the_domain_loads_no_infrastructure_library():
    code = (
        "import sys\n"
        + "".join(f"import receipt.{m}\n" for m in PURE)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
