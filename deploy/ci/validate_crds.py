"""Validates every resource of rendered manifests; no kind is skipped silently.

kubernetes-validate knows only built-in kinds and merely warns on custom ones, so this runs after
it on the same rendered output and sorts every document into exactly one bucket:

1. a built-in kind: validated strictly by kubernetes-validate, at every Kubernetes version given
   with --kubernetes-version (the oldest and newest supported, docs/deploy.md);
2. a custom kind whose upstream CRD is vendored under deploy/ci/crds/ (the RabbitMQ Cluster and
   Messaging Topology operators, the Gateway API): validated against that CRD's
   openAPIV3Schema for the object's version;
3. a custom kind listed in SCHEMA_SOURCES (KEDA, Prometheus Operator): validated against the JSON
   schema of the pydantic models that the pinned cloudcoil-models-* packages (PyPI) generate
   from the upstream CRDs;
4. anything else: an error.

Custom kinds are validated strictly: an unknown field is an error wherever the schema lists
properties and does not preserve unknown fields (the API server would prune it silently).

Usage: validate_crds.py [--kubernetes-version V ...] FILE|- [FILE ...]
Runs in the tool venv of scripts/check-deploy.sh (kubernetes-validate, jsonschema, cloudcoil).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv

CRDS = Path(__file__).resolve().parent / "crds"

# (apiVersion, kind) -> (module, class): schemas generated from the upstream CRDs.
SCHEMA_SOURCES: dict[tuple[str, str], tuple[str, str]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): ("cloudcoil.models.keda.v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): (
        "cloudcoil.models.keda.v1alpha1",
        "TriggerAuthentication",
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "cloudcoil.models.prometheus_operator.v1",
        "ServiceMonitor",
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "cloudcoil.models.prometheus_operator.v1",
        "PrometheusRule",
    ),
}

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
}


def strict(schema: Any) -> Any:
    """Rejects unknown fields wherever properties are listed (the API server would prune them),
    except where the schema keeps unknown fields (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def _require_envelope(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("required", [])
    for field in ("apiVersion", "kind", "metadata", "spec"):
        if field not in schema["required"]:
            schema["required"].append(field)
    return schema


def crd_schemas(folder: Path = CRDS) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, from every vendored CRD (served versions)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema["properties"]["metadata"] = _METADATA
                out[(f"{group}/{version['name']}", kind)] = _require_envelope(schema)
    return out


def generated_schema(module: str, cls: str) -> dict[str, Any]:
    model = getattr(importlib.import_module(module), cls)
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return _require_envelope(strict(copy.deepcopy(schema)))


def _name(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


class Validator:
    def __init__(self, k8s_versions: list[str]) -> None:
        self.k8s_versions = k8s_versions
        self.crds = crd_schemas()
        self.generated: dict[tuple[str, str], dict[str, Any]] = {}

    def known(self, key: tuple[str, str]) -> bool:
        return key in self.crds or key in SCHEMA_SOURCES

    def _custom_schema(self, key: tuple[str, str]) -> dict[str, Any] | None:
        if key in self.crds:
            return self.crds[key]
        if key in SCHEMA_SOURCES:
            if key not in self.generated:
                self.generated[key] = generated_schema(*SCHEMA_SOURCES[key])
            return self.generated[key]
        return None

    def _builtin(self, doc: dict[str, Any]) -> list[str]:
        """Strict errors at each Kubernetes version (missing from one of them is an error)."""
        errors: list[str] = []
        for version in self.k8s_versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.SchemaNotFoundError:
                errors.append(f"{_name(doc)}: not a built-in kind in Kubernetes {version}")
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                errors.append(f"{_name(doc)}: [k8s {version}] {path}: {e.message}")
        return errors

    def validate(self, docs: list[dict[str, Any]]) -> list[str]:
        errors: list[str] = []
        for doc in docs:
            key = (str(doc.get("apiVersion")), str(doc.get("kind")))
            schema = self._custom_schema(key)
            if schema is None:
                if not self._is_builtin(doc):
                    errors.append(
                        f"{_name(doc)}: {key[0]} {key[1]} is neither a built-in kind nor a known "
                        "custom kind; vendor its CRD under deploy/ci/crds/ or add it to "
                        "SCHEMA_SOURCES in deploy/ci/validate_crds.py"
                    )
                    continue
                errors += self._builtin(doc)
                continue
            validator = jsonschema.Draft202012Validator(schema)
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
                path = ".".join(str(p) for p in err.path)
                errors.append(f"{_name(doc)}: {path}: {err.message}")
        return errors

    def _is_builtin(self, doc: dict[str, Any]) -> bool:
        """Built in at any of the versions (a kind missing from one of them fails there)."""
        for version in self.k8s_versions:
            try:
                kv.validate(doc, version, strict=True)
                return True
            except kv.SchemaNotFoundError:
                continue
            except kv.ValidationError:
                return True
        return False


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--kubernetes-version",
        "-k",
        action="append",
        default=[],
        help="validate built-in kinds at this version (repeatable; default: the newest known)",
    )
    p.add_argument("files", nargs="+")
    args = p.parse_args(argv[1:])
    versions = args.kubernetes_version or [kv.latest_version()]
    checker = Validator(versions)
    rc = 0
    for path in args.files:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        docs = [d for d in yaml.safe_load_all(text) if d]
        errors = checker.validate(docs)
        keys = {(str(d.get("apiVersion")), str(d.get("kind"))) for d in docs}
        custom = sorted({k[1] for k in keys if checker.known(k)})
        for e in errors:
            print(f"ERROR {path}: {e}")
        print(
            f"{path}: {len(docs)} resources, {len(errors)} errors (Kubernetes "
            f"{', '.join(versions)}); custom kinds checked: {', '.join(custom) or 'none'}"
        )
        rc |= 1 if errors else 0
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
