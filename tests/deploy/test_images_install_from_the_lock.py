"""Replays each Dockerfile's builder stage without Docker: its COPY lines and `uv sync` commands.

What the final image gets is the builder's /app/.venv; this checks that venv holds the service,
distsync-shared and the `distsync` command, no other service, and works without the sources
(non-editable), using the same lock and commands the image build uses.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def package_of(service: str) -> str:
    return service.replace("-", "_")


def builder_stage(dockerfile: str) -> list[str]:
    """The builder stage's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [
        ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    start = next(
        i for i, ln in enumerate(lines) if ln.startswith("FROM ") and ln.endswith(" AS builder")
    )
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("FROM "))
    return lines[start + 1 : end]


def test_builder_stage_installs_only_this_service_from_the_lock(
    root: Path, tmp_path: Path, service: str
) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    steps = builder_stage((root / "services" / service / "Dockerfile").read_text())
    src = tmp_path / "src"
    venv = tmp_path / "app" / ".venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_LINK_MODE": "copy"}
    env.pop("VIRTUAL_ENV", None)
    ran = 0
    for step in steps:
        op, _, rest = step.partition(" ")
        if op == "COPY" and not rest.startswith("--from"):
            *sources, dest = shlex.split(rest)
            into_dir = dest.endswith("/") or len(sources) > 1
            for name in sources:
                origin = root / name
                target = src / dest / origin.name if into_dir else src / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(origin, target)
        elif op == "RUN" and "uv sync" in rest:
            command = shlex.split(rest[rest.index("uv sync") :])
            result = subprocess.run(
                [uv, *command[1:], "--python", sys.executable],
                cwd=src,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stderr[-3000:]
            ran += 1
    assert ran == 2, "a dependency layer, then the project itself"

    shutil.rmtree(src)  # the final image has no sources: only the venv
    python = venv / "bin" / "python"
    assert (venv / "bin" / "distsync").exists()
    package = package_of(service)
    probe = subprocess.run(
        [str(python), "-c", f"import shared, {package}; print({package}.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert str(venv) in probe.stdout
    others = [
        package_of(p.parent.name)
        for p in (root / "services").glob("*/pyproject.toml")
        if p.parent.name != service
    ]
    leaked = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, sys; "
            "print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])",
            *others,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert leaked.stdout.strip() == "[]", leaked.stdout + leaked.stderr
