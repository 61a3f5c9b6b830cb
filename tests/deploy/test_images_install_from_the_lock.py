"""Replays each Dockerfile's builder stage without Docker: its COPY lines and `uv sync` commands.

What the final image gets is the builder's /app/.venv; this checks that venv holds the service,
distsync-shared and the `distsync` command, no other service than those its pyproject.toml
depends on (the ingress: the consuming services' event models), and works without the sources
(non-editable), using the same lock and commands the image build uses. The locked install sets
themselves (`uv export`) show that no image gets the simulator or its embedded database: they
are a development dependency of the workspace only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

# what development alone needs: the simulator with `distsync up`, and SecantusDB
DEV_ONLY = ("distsync-sim", "secantusdb")
DEV_ONLY_MODULES = ("distsync_sim", "secantus")


def package_of(service: str) -> str:
    return service.replace("-", "_")


def distsync_dependencies(root: Path, service: str) -> set[str]:
    """The distsync-* distributions the service's pyproject.toml depends on: distsync-shared, and
    for the ingress the services whose event models it validates with."""
    project = tomllib.loads((root / "services" / service / "pyproject.toml").read_text())
    names = {
        re.split(r"[=<>;\[ ]", d, maxsplit=1)[0].lower() for d in project["project"]["dependencies"]
    }
    return {n for n in names if n.startswith("distsync-")}


def locked_install_set(root: Path, *args: str, dev: bool = False) -> set[str]:
    """The distributions `uv sync --frozen --no-dev` (or with `dev`, the development install)
    puts in place for `args`: names, lower case."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    out = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-hashes",
            "--no-header",
            *([] if dev else ["--no-dev"]),
            *args,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    names: set[str] = set()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("-e "):  # a workspace member: its pyproject.toml names it
            text = (root / line[3:] / "pyproject.toml").read_text()
            name = re.search(r'^name = "([^"]+)"', text, re.M)
            assert name is not None, line
            names.add(name.group(1).lower())
        elif line and not line.startswith("#"):
            names.add(re.split(r"[=<>;\[ ]", line, maxsplit=1)[0].lower())
    return names


def test_a_service_image_installs_neither_the_simulator_nor_the_embedded_database(
    root: Path, service: str, dockerfile_of: Callable[..., str]
) -> None:
    dockerfile = dockerfile_of(service)
    assert f"--package distsync-{service}" in dockerfile
    installed = locked_install_set(root, "--package", f"distsync-{service}")
    assert {f"distsync-{service}", "distsync-shared"} <= installed
    assert not installed & {*DEV_ONLY, "distsync-ops"}, installed
    allowed = {f"distsync-{service}", "distsync-shared", *distsync_dependencies(root, service)}
    assert {n for n in installed if n.startswith("distsync-")} == allowed


def test_the_tools_image_has_the_operator_tools_but_not_the_simulator(root: Path) -> None:
    dockerfile = (root / "deploy/docker/tools.Dockerfile").read_text()
    syncs = re.findall(r"uv sync [^\n]*", dockerfile)
    assert syncs and all("--no-dev" in s and "--all-packages" not in s for s in syncs)
    installed = locked_install_set(root)
    assert {"distsync-ops", "distsync-shared", "distsync-receipt"} <= installed
    assert not installed & set(DEV_ONLY), installed
    assert set(DEV_ONLY) <= locked_install_set(root, dev=True)  # what the check would catch


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
    root: Path, tmp_path: Path, service: str, dockerfile_of: Callable[..., str]
) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    steps = builder_stage(dockerfile_of(service))
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
    needed = {d.removeprefix("distsync-") for d in distsync_dependencies(root, service)}
    others = [
        package_of(p.parent.name)
        for p in (root / "services").glob("*/pyproject.toml")
        if p.parent.name != service and p.parent.name not in needed
    ] + [*DEV_ONLY_MODULES, "distsync_ops"]
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
    tool = subprocess.run(
        [str(venv / "bin" / "distsync"), "dlq", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tool.returncode == 2 and "comes with distsync-ops" in tool.stderr, tool.stderr
