"""Validates every resource of rendered manifests; no kind is skipped silently.

kubernetes-validate knows only built-in kinds and merely warns on custom ones, so this runs after
it on the same `kubectl kustomize` output and sorts every document into exactly one bucket:

1. a built-in kind: validated strictly by kubernetes-validate (again, via its library);
2. a custom kind listed in SCHEMA_SOURCES: validated strictly (unknown fields rejected) against
   the JSON schema of the pydantic models that the cloudcoil-models-* packages (PyPI) generate
   from the upstream CRDs;
3. a custom kind listed in STRUCTURAL: no published schema can be installed from a package
   registry reachable from CI, so a strict hand-written schema of the fields distsync uses (from
   the operator's API reference) checks it; tests/deploy checks their meaning (3 replicas,
   permissions equal to definitions.json, ...);
4. anything else: an error.

Usage: validate_crds.py FILE|- [FILE ...]   (validated against kubernetes-validate's latest version)
Runs in the tool venv of scripts/check-deploy.sh (kubernetes-validate, jsonschema, cloudcoil).
"""

from __future__ import annotations

import copy
import importlib
import sys
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv

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


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


_STR = {"type": "string", "minLength": 1}
_REF = _obj({"name": _STR, "namespace": _STR}, ("name",))
_ANY_OBJ = {"type": "object"}
_METADATA = {"type": "object", "required": ["name"], "properties": {"name": _STR}}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        ("apiVersion", "kind", "metadata", "spec"),
    )


# RabbitMQ Cluster Operator / Messaging Topology Operator (rabbitmq.com/v1beta1): publish their
# CRDs only on GitHub, which CI cannot reach; these cover the documented spec fields.
STRUCTURAL: dict[tuple[str, str], dict[str, Any]] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): _resource(
        "rabbitmq.com/v1beta1",
        "RabbitmqCluster",
        _obj(
            {
                "replicas": {"type": "integer", "minimum": 0},
                "image": _STR,
                "imagePullSecrets": {"type": "array"},
                "service": _ANY_OBJ,
                "persistence": _obj(
                    {"storageClassName": _STR, "storage": {"type": ["string", "integer"]}}
                ),
                "resources": _ANY_OBJ,
                "affinity": _ANY_OBJ,
                "tolerations": {"type": "array"},
                "rabbitmq": _obj(
                    {
                        "additionalConfig": {"type": "string"},
                        "advancedConfig": {"type": "string"},
                        "envConfig": {"type": "string"},
                        "erlangInetConfig": {"type": "string"},
                        "additionalPlugins": {"type": "array", "items": _STR},
                    }
                ),
                "tls": _obj(
                    {
                        "secretName": _STR,
                        "caSecretName": _STR,
                        "disableNonTLSListeners": {"type": "boolean"},
                    }
                ),
                "override": _ANY_OBJ,
                "skipPostDeploySteps": {"type": "boolean"},
                "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
                "delayStartSeconds": {"type": "integer", "minimum": 0},
                "secretBackend": _ANY_OBJ,
            },
            ("replicas",),
        ),
    ),
    ("rabbitmq.com/v1beta1", "Vhost"): _resource(
        "rabbitmq.com/v1beta1",
        "Vhost",
        _obj(
            {
                "name": _STR,
                "defaultQueueType": {"enum": ["classic", "quorum", "stream"]},
                "tracing": {"type": "boolean"},
                "tags": {"type": "array", "items": _STR},
                "deletionPolicy": {"enum": ["delete", "retain"]},
                "rabbitmqClusterReference": _REF,
            },
            ("name", "rabbitmqClusterReference"),
        ),
    ),
    ("rabbitmq.com/v1beta1", "User"): _resource(
        "rabbitmq.com/v1beta1",
        "User",
        _obj(
            {
                "tags": {
                    "type": "array",
                    "items": {
                        "enum": [
                            "management",
                            "policymaker",
                            "monitoring",
                            "administrator",
                            "impersonator",
                        ]
                    },
                },
                "rabbitmqClusterReference": _REF,
                "importCredentialsSecret": _obj({"name": _STR}, ("name",)),
            },
            ("rabbitmqClusterReference",),
        ),
    ),
    ("rabbitmq.com/v1beta1", "Permission"): _resource(
        "rabbitmq.com/v1beta1",
        "Permission",
        _obj(
            {
                "vhost": _STR,
                "user": _STR,
                "userReference": _obj({"name": _STR}, ("name",)),
                "permissions": _obj(
                    {
                        "configure": {"type": "string"},
                        "write": {"type": "string"},
                        "read": {"type": "string"},
                    },
                    ("configure", "write", "read"),
                ),
                "rabbitmqClusterReference": _REF,
            },
            ("vhost", "permissions", "rabbitmqClusterReference"),
        ),
    ),
}


def strict(schema: Any) -> Any:
    """Rejects unknown fields wherever properties are listed (the API server would prune them)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def generated_schema(module: str, cls: str) -> dict[str, Any]:
    model = getattr(importlib.import_module(module), cls)
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = strict(copy.deepcopy(schema))
    schema.setdefault("required", [])
    for field in ("apiVersion", "kind", "metadata", "spec"):
        if field not in schema["required"]:
            schema["required"].append(field)
    return schema


def _name(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def validate_documents(docs: list[dict[str, Any]], k8s_version: str) -> list[str]:
    errors: list[str] = []
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        key = (str(doc.get("apiVersion")), str(doc.get("kind")))
        try:
            kv.validate(doc, k8s_version, strict=True)
            continue
        except kv.SchemaNotFoundError:
            pass
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{_name(doc)}: {path}: {e.message}")
            continue
        if key in SCHEMA_SOURCES:
            if key not in cache:
                cache[key] = generated_schema(*SCHEMA_SOURCES[key])
            schema = cache[key]
        elif key in STRUCTURAL:
            schema = STRUCTURAL[key]
        else:
            errors.append(
                f"{_name(doc)}: {key[0]} {key[1]} is neither a built-in kind nor a known custom "
                "kind; add its schema to deploy/ci/validate_crds.py"
            )
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in err.path)
            errors.append(f"{_name(doc)}: {path}: {err.message}")
    return errors


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    version = kv.latest_version()
    rc = 0
    for path in argv[1:]:
        text = sys.stdin.read() if path == "-" else open(path).read()
        docs = [d for d in yaml.safe_load_all(text) if d]
        errors = validate_documents(docs, version)
        known = {**SCHEMA_SOURCES, **STRUCTURAL}
        custom = sorted({str(d["kind"]) for d in docs if (d["apiVersion"], d["kind"]) in known})
        for e in errors:
            print(f"ERROR {path}: {e}")
        print(
            f"{path}: {len(docs)} resources, {len(errors)} errors; "
            f"custom kinds checked: {', '.join(custom) or 'none'}"
        )
        rc |= 1 if errors else 0
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
