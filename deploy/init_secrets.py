"""Generates the random passwords, keyfile and token distsync needs, where nothing is committed.

    python3 deploy/init_secrets.py              # docker compose and the Kubernetes dev overlay
    python3 deploy/init_secrets.py --no-k8s     # docker compose only
    python3 deploy/init_secrets.py --no-compose # the Kubernetes dev overlay only

Docker compose: the variables go into `.env` beside docker-compose.yml (git-ignored, mode 0600;
compose reads it by itself), RabbitMQ's definitions with the hashes of those passwords into
`.secrets/rabbitmq-definitions.json` and the API keys' SHA-256 hashes into
`.secrets/api-keys.json` (both git-ignored), which compose mounts. The plain API keys stay in
`.env` only (`DISTSYNC_API_KEY_<CLIENT>`): hand them to the callers, they go in `X-API-Key`.
A value already in `.env` is kept (set your own there first to choose it), so running it again
only fills in what is missing and rewrites the definitions file when a RabbitMQ password in
`.env` changed (and the keys file when an API key did).

Kubernetes `overlays/dev`: the Secrets' contents go into `deploy/k8s/overlays/dev/secrets/`
(git-ignored; kustomize's secretGenerator reads them), from `secrets/passwords.env` there, which
is generated once and kept. Production overlays take their Secrets from your secret store.

Standard library only. Passwords are URL-safe (they go into AMQP_URL and MONGODB_URL as is).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import secrets
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRETS = ROOT / "deploy/k8s/overlays/dev/secrets"
MONGO_HOSTS = ",".join(f"mongodb-{i}.mongodb-headless:27017" for i in range(3))
DEV_NAMESPACE = "distsync-dev"
# carrier-tracking's webhook formats (carrier_tracking.webhook_formats.FORMATS, less "generic").
CARRIERS: tuple[str, ...] = ("ups", "fedex", "dhl", "usps")
# One API key per local client (compose, the dev overlay) with the scopes it gets.
API_CLIENTS: dict[str, tuple[str, ...]] = {
    "operator": (
        "availability:read",
        "orders:read",
        "receipts:read",
        "returns:read",
        "shipments:read",
        "dlq:read",
        "dlq:replay",
        "dlq:purge",
        "audit:read",
    ),
    # a second person: approves large stock-moving DLQ replays the operator requested
    "approver": ("dlq:read", "dlq:approve"),
    "channel": ("availability:read", "orders:read", "shipments:read"),
    # the ingress service itself: reads availability's API for the 846 inventory advice
    "ingress": ("availability:read",),
}
# Settings a service reads from its own Secret besides AMQP_URL and MONGODB_URL: env -> the API
# client whose key it holds.
SERVICE_API_KEYS: dict[str, dict[str, str]] = {
    "ingress": {"DISTSYNC_INGRESS_AVAILABILITY_API_KEY": "ingress"},
}


def _model() -> ModuleType:
    path = ROOT / "deploy/rabbitmq/generate_definitions.py"
    spec = importlib.util.spec_from_file_location("generate_definitions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SERVICES: tuple[str, ...] = _model().SERVICES  # shared/service.py's SERVICE_TABLE


def mongo_env(user: str) -> str:
    return "MONGO_PASSWORD_" + user.upper().replace("-", "_")


def db_of(service: str) -> str:
    return "distsync_" + service.replace("-", "_")


def required(model: ModuleType) -> dict[str, str]:
    """Every secret variable, with a freshly generated value."""
    out = {model.password_env(u): secrets.token_urlsafe(24) for u in model.user_names()}
    out["MONGO_ROOT_PASSWORD"] = secrets.token_urlsafe(24)
    # mongod: 6..1024 base64 characters
    out["MONGO_KEYFILE"] = base64.b64encode(secrets.token_bytes(384)).decode()
    for user in (*SERVICES, "ops"):
        out[mongo_env(user)] = secrets.token_urlsafe(24)
    out["GRAFANA_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
    out["DISTSYNC_DLQ_API_TOKEN"] = secrets.token_urlsafe(32)
    for carrier in CARRIERS:
        out[webhook_env(carrier)] = secrets.token_urlsafe(32)
    for client in API_CLIENTS:
        out[api_key_env(client)] = secrets.token_urlsafe(32)
    return out


def webhook_env(carrier: str) -> str:
    return "CARRIER_WEBHOOK_SECRET_" + carrier.upper()


def api_key_env(client: str) -> str:
    return "DISTSYNC_API_KEY_" + client.upper().replace("-", "_")


def webhook_secrets_json(env: dict[str, str]) -> str:
    """DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS: {"ups": "...", ...}."""
    return json.dumps({c: env[webhook_env(c)] for c in CARRIERS}, separators=(",", ":"))


def api_keys_json(env: dict[str, str]) -> str:
    """The file DISTSYNC_AUTH_API_KEYS_FILE names: each client's key as a SHA-256 hex digest."""
    entries = [
        {
            "client": client,
            "sha256": hashlib.sha256(env[api_key_env(client)].encode()).hexdigest(),
            "scopes": list(scopes),
        }
        for client, scopes in API_CLIENTS.items()
    ]
    return json.dumps(entries, separators=(",", ":"))


def write_api_keys(path: Path, env: dict[str, str]) -> bool:
    """The hashed keys file (world-readable: the services read it as uid 10001; only hashes)."""
    text = api_keys_json(env) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return True


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (ln.split("=", 1) for ln in path.read_text().splitlines() if "=" in ln)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def fill_env(path: Path, fresh: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Add every variable of `fresh` that `path` lacks (or has empty); keep everything else."""
    have = read_env(path)
    added = [k for k in fresh if not have.get(k)]
    if added:
        lines = path.read_text().splitlines() if path.exists() else []
        lines = [ln for ln in lines if ln.split("=", 1)[0].strip() not in added]
        if not lines:
            lines = ["# Generated by deploy/init_secrets.py: the secrets of this installation."]
        lines += [f"{k}={fresh[k]}" for k in added]
        _write_private(path, "\n".join(lines) + "\n")
    return {**have, **{k: fresh[k] for k in added}}, added


def write_definitions(model: ModuleType, path: Path, env: dict[str, str]) -> bool:
    """RabbitMQ definitions with these passwords' hashes, unless the file already matches."""
    passwords = {u: env[model.password_env(u)] for u in model.user_names()}
    if path.exists():
        try:
            users = {u["name"]: u for u in json.loads(path.read_text())["users"]}
            if all(
                model.password_matches(users[u]["password_hash"], pw) for u, pw in passwords.items()
            ):
                return False
        except (ValueError, KeyError, TypeError):
            pass
    model.write_with_hashes(path, passwords)
    return True


def dev_secret_files(env: dict[str, str], model: ModuleType) -> dict[str, dict[str, str]]:
    """The dev overlay's Secrets (name -> keys), from one set of generated values."""

    def mongo_url(user: str, db: str, auth_db: str) -> str:
        pw = env[mongo_env(user)]
        return f"mongodb://{user}:{pw}@{MONGO_HOSTS}/{db}?replicaSet=rs0&authSource={auth_db}"

    def amqp_url(user: str) -> str:
        return f"amqp://{user}:{env[model.password_env(user)]}@rabbitmq:5672/distsync"

    files: dict[str, dict[str, str]] = {}
    for s in SERVICES:
        files[f"{s}-secrets"] = {
            "AMQP_URL": amqp_url(s),
            "MONGODB_URL": mongo_url(s, db_of(s), db_of(s)),
            **{k: env[api_key_env(c)] for k, c in SERVICE_API_KEYS.get(s, {}).items()},
        }
    for u in model.user_names():
        files[f"rabbitmq-user-{u}"] = {"username": u, "password": env[model.password_env(u)]}
    files["distsync-admin-secrets"] = {
        "AMQP_URL": amqp_url(model.ADMIN_USER),
        "MONGODB_URL": mongo_url("ops", "distsync_admin", "distsync_admin"),
        "DISTSYNC_DLQ_API_TOKEN": env["DISTSYNC_DLQ_API_TOKEN"],
    }
    files["keda-rabbitmq"] = {
        "host": (
            f"amqp://{model.MONITOR_USER}:{env[model.password_env(model.MONITOR_USER)]}"
            f"@rabbitmq.{DEV_NAMESPACE}.svc.cluster.local:5672/distsync"
        )
    }
    files["carrier-tracking-webhooks"] = {
        "DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS": webhook_secrets_json(env)
    }
    files["distsync-api-keys"] = {"api-keys.json": api_keys_json(env)}
    files["mongodb-root"] = {"username": "root", "password": env["MONGO_ROOT_PASSWORD"]}
    files["mongodb-keyfile"] = {"keyfile": env["MONGO_KEYFILE"]}
    files["mongodb-users"] = {mongo_env(u): env[mongo_env(u)] for u in (*SERVICES, "ops")}
    return files


def init_k8s_dev(model: ModuleType, folder: Path = DEV_SECRETS) -> list[Path]:
    env, _ = fill_env(folder / "passwords.env", required(model))
    written = []
    for name, keys in dev_secret_files(env, model).items():
        path = folder / f"{name}.env"
        text = "".join(f"{k}={v}\n" for k, v in keys.items())
        if not path.exists() or path.read_text() != text:
            _write_private(path, text)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env-file", type=Path, default=ROOT / ".env", help="compose variables")
    p.add_argument(
        "--definitions",
        type=Path,
        default=ROOT / ".secrets/rabbitmq-definitions.json",
        help="RabbitMQ definitions with the password hashes (compose mounts this path)",
    )
    p.add_argument(
        "--api-keys",
        type=Path,
        default=ROOT / ".secrets/api-keys.json",
        help="the API keys' hashes (compose mounts this path)",
    )
    p.add_argument("--no-compose", action="store_true", help="skip the compose secrets")
    p.add_argument("--no-k8s", action="store_true", help="skip the Kubernetes dev overlay")
    args = p.parse_args(argv)
    model = _model()
    if not args.no_compose:
        fresh = required(model)
        env, added = fill_env(args.env_file, fresh)
        print(f"{args.env_file}: {len(added)} secrets generated, {len(fresh) - len(added)} kept")
        if write_definitions(model, args.definitions, env):
            print(f"wrote {args.definitions}")
        if write_api_keys(args.api_keys, env):
            print(f"wrote {args.api_keys}")
    if not args.no_k8s:
        written = init_k8s_dev(model)
        print(f"{DEV_SECRETS}: {len(written)} Secret files written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
