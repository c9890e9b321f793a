"""The CustomResourceDefinitions Strimzi ships (../shared/reference/strimzi), as strict validators.

Strict: unknown properties are refused, because Kubernetes would silently prune them, which hides
typos and invented fields — except where the CRD itself preserves unknown fields.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
# shared/ sits beside the clone (CI) or beside the folder of worktrees (development)
CRDS = next((p / "shared" / "reference" / "strimzi" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "reference" / "strimzi").is_dir()), ROOT.parent / "shared" / "reference" / "strimzi")
CRD_FILES = {"Kafka": "040-Crd-kafka.yaml", "KafkaNodePool": "045-Crd-kafkanodepool.yaml",
             "KafkaRebalance": "049-Crd-kafkarebalance.yaml"}


def _strict(schema: Any) -> Any:
    s = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    return s


@functools.cache
def validator(kind: str, version: str) -> jsonschema.protocols.Validator:
    """A validator for the served version's openAPIV3Schema (built once: the Kafka CRD is large)."""
    crd = yaml.safe_load((CRDS / CRD_FILES[kind]).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version and v.get("served"):
            schema = _strict(v["schema"]["openAPIV3Schema"])
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            return cls(schema)
    raise AssertionError(f"{kind} CRD does not serve {version}")
