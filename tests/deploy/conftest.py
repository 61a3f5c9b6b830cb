"""Fixtures for the deployment checks: the repository's deploy files, parsed, and the CI tools."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"


SERVICE_DOCKERFILE = ROOT / "deploy/docker/service.Dockerfile"


def service_dockerfile(service: str, port: int | str = "") -> str:
    """deploy/docker/service.Dockerfile with its build arguments filled in, as a build with
    `--build-arg SERVICE=<service> --build-arg PORT=<port>` reads it."""
    args = {"SERVICE": service, "PORT": str(port)}
    return re.sub(
        r"\$\{(SERVICE|PORT)\}", lambda m: args[m.group(1)], SERVICE_DOCKERFILE.read_text()
    )


def discovered_services() -> list[str]:
    """Every service folder with a pyproject.toml: a new one is checked as soon as it exists."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", discovered_services())


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="session")
def dockerfile_of() -> Callable[..., str]:
    """service_dockerfile: the one service Dockerfile, read for one service."""
    return service_dockerfile


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def model() -> ModuleType:
    """deploy/rabbitmq/generate_definitions.py: the users, permissions and queues model."""
    return load_module(ROOT / "deploy/rabbitmq/generate_definitions.py")


@pytest.fixture(scope="session")
def init_secrets() -> ModuleType:
    """deploy/init_secrets.py: the secrets generated at first start (compose, dev overlay)."""
    return load_module(ROOT / "deploy/init_secrets.py")


@pytest.fixture(scope="session")
def dev_secrets(init_secrets: ModuleType, model: ModuleType) -> Path:
    """The dev overlay's git-ignored Secret files, generated if missing (kustomize needs them)."""
    init_secrets.init_k8s_dev(model)
    return Path(init_secrets.DEV_SECRETS)


@pytest.fixture(scope="session")
def definitions() -> dict[str, Any]:
    return json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def k8s_base() -> list[dict[str, Any]]:
    """Every resource file under deploy/k8s/base and deploy/k8s/components, parsed."""
    docs: list[dict[str, Any]] = []
    for folder in ("base", "components"):
        for path in sorted((ROOT / "deploy/k8s" / folder).rglob("*.yaml")):
            if path.name != "kustomization.yaml":
                # kustomize transformer configurations (no kind) are not resources
                docs += [d for d in yaml_docs(path) if "kind" in d]
    return docs


def tool(*relative: str, name: str | None = None) -> str:
    """A CI tool from .tools/ (scripts/check-deploy.sh installs them), else from PATH, else skip."""
    for rel in relative:
        candidate = TOOLS / rel
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name) if name else None
    if found:
        return found
    pytest.skip(
        f"{name or relative[0]} is not installed; `bash scripts/check-deploy.sh --install` "
        "installs it (CI runs that script first)"
    )


@pytest.fixture(scope="session")
def find_tool() -> Callable[..., str]:
    return tool


@pytest.fixture(scope="session")
def kubectl() -> str:
    return tool(name="kubectl")


@pytest.fixture(scope="session")
def lint_python() -> str:
    return tool("lint/bin/python")
