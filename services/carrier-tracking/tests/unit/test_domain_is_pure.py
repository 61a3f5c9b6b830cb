"""domain.py stays free of I/O libraries, so its rules can be tested and reasoned about alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import carrier_tracking.domain as domain

FORBIDDEN = ("aio_pika", "pymongo", "structlog", "prometheus_client", "fastapi")


def test_domain_source_imports_no_io_library() -> None:
    tree = ast.parse(Path(domain.__file__).read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    roots = {n.split(".")[0] for n in names}
    assert not roots & set(FORBIDDEN)
    assert not any(n.startswith("shared") for n in names)


def test_importing_domain_loads_no_io_library_transitively() -> None:
    code = (
        "import sys, carrier_tracking.domain\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
