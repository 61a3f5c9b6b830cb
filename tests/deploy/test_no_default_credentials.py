"""No usable credential ships in the repository: they are generated at first start
(deploy/init_secrets.py) into git-ignored files, or come from the operator's secret store."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path
from types import ModuleType

import yaml

SHIPPED_PATTERN = re.compile(r"dev-password|password_hash|ChangeMe|DevKeyfile", re.IGNORECASE)


def _shipped_files(root: Path) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "deploy", "docker-compose.yml"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout.strip():
        return [root / p for p in listed.stdout.split()]
    secrets = root / "deploy/k8s/overlays/dev/secrets"
    files = [p for p in (root / "deploy").rglob("*") if p.is_file() and secrets not in p.parents]
    return [*files, root / "docker-compose.yml"]


def test_no_shipped_deploy_file_holds_a_password_a_hash_or_a_keyfile(root: Path) -> None:
    offenders = []
    for path in _shipped_files(root):
        if not path.exists() or path.suffix == ".py":  # data and manifests, not the generators
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{path.relative_to(root)}: {m}" for m in SHIPPED_PATTERN.findall(text)]
    assert offenders == []


def test_the_generated_secrets_are_git_ignored(root: Path) -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", ".env", ".secrets/x.json", "deploy/k8s/overlays/dev/secrets/a.env"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == [
        ".env",
        ".secrets/x.json",
        "deploy/k8s/overlays/dev/secrets/a.env",
    ]


def test_the_dev_overlay_reads_every_secret_from_generated_files_only(root: Path) -> None:
    dev = yaml.safe_load((root / "deploy/k8s/overlays/dev/kustomization.yaml").read_text())
    for secret in dev["secretGenerator"]:
        assert set(secret) == {"name", "envs"}, secret["name"]
        assert secret["envs"] == [f"secrets/{secret['name']}.env"]


def test_init_generates_every_secret_once_and_keeps_what_is_there(
    init_secrets: ModuleType, model: ModuleType, tmp_path: Path
) -> None:
    env, defs = tmp_path / ".env", tmp_path / ".secrets" / "definitions.json"
    env.write_text("DISTSYNC_TAG=1.2.3\nRABBITMQ_PASSWORD_WMS=chosen-by-me\nMONGO_ROOT_PASSWORD=\n")
    args = ["--no-k8s", "--env-file", str(env), "--definitions", str(defs)]
    assert init_secrets.main(args) == 0
    first = init_secrets.read_env(env)
    assert set(init_secrets.required(model)) <= set(first)
    assert first["DISTSYNC_TAG"] == "1.2.3" and first["RABBITMQ_PASSWORD_WMS"] == "chosen-by-me"
    assert all(first.values()) and len(set(first.values())) == len(first)  # none blank or shared
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    users = {u["name"]: u for u in json.loads(defs.read_text())["users"]}
    for user in model.user_names():
        assert model.password_matches(users[user]["password_hash"], first[model.password_env(user)])

    assert init_secrets.main(args) == 0
    assert init_secrets.read_env(env) == first  # a second run changes nothing

    env.write_text(env.read_text().replace("chosen-by-me", "rotated"))
    assert init_secrets.main(args) == 0
    users = {u["name"]: u for u in json.loads(defs.read_text())["users"]}
    assert model.password_matches(users["wms"]["password_hash"], "rotated")


def test_the_dev_overlays_secrets_agree_with_each_other(
    init_secrets: ModuleType, model: ModuleType
) -> None:
    files = init_secrets.dev_secret_files(init_secrets.required(model), model)
    for service in init_secrets.SERVICES:
        password = files[f"rabbitmq-user-{service}"]["password"]
        assert files[f"{service}-secrets"]["AMQP_URL"] == (
            f"amqp://{service}:{password}@rabbitmq:5672/distsync"
        )
        mongo = files["mongodb-users"][init_secrets.mongo_env(service)]
        assert f"//{service}:{mongo}@" in files[f"{service}-secrets"]["MONGODB_URL"]
    admin = files["distsync-admin-secrets"]
    assert len(admin["DISTSYNC_DLQ_API_TOKEN"]) >= 32
    assert f"//ops:{files['mongodb-users']['MONGO_PASSWORD_OPS']}@" in admin["MONGODB_URL"]
