"""The pod the provider builds for one block, before the user's ``pod_template`` is merged.

Everything here is pure: a :class:`PodShape` (the provider's validated parameters)
and a pod name and command in, a manifest dict out, so every field can be checked
by table-driven tests without a cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from plait.launchers.simple import SingleNodeLauncher
from plait_provider_kubernetes.template import PROVIDER_LABEL, RUN_LABEL, WORKER_CONTAINER

#: A Kubernetes resource quantity (``"500m"``, ``"1.5"``, ``"250Mi"``, ``"2G"``, ``"1e3"``).
QUANTITY = re.compile(
    r"^(?P<number>[+]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>[eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$"
)
_SUFFIX = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
#: Longest pod name prefix: room for "-" and the 8-character suffix within the 63
#: characters a pod's hostname may have.
_MAX_PREFIX = 54
#: Label the provider's pods carry so ``kubectl get pods -l`` finds all of plait's.
MANAGED_BY = ("app.kubernetes.io/managed-by", "plait")


def quantity(value: object) -> str:
    """``value`` as a Kubernetes quantity string (the client accepts strings only).

    :raises ValueError: not a quantity.
    """
    if isinstance(value, bool):
        raise ValueError(value)
    text = format(value, "g") if isinstance(value, int | float) else str(value).strip()
    if not QUANTITY.match(text):
        raise ValueError(value)
    return text


def quantity_value(text: str) -> float:
    """The number a quantity string stands for (``"500m"`` -> 0.5, ``"1Gi"`` -> 2**30)."""
    match = QUANTITY.match(text)
    if not match:
        raise ValueError(text)
    number, suffix = float(match["number"]), match["suffix"]
    if not suffix:
        return number
    if suffix[0] in "eE":
        return float(number * 10 ** int(suffix[1:]))
    return float(number * _SUFFIX[suffix])


def pod_name(prefix: str, suffix: str) -> str:
    """A valid pod name (an RFC 1123 label, so it is also the pod's hostname) from any
    prefix: lowercase, runs of other characters as ``-``, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")[:_MAX_PREFIX].strip("-")
    return f"{cleaned or 'plait'}-{suffix}"


@dataclass(frozen=True)
class PodShape:
    """What the provider's parameters say about every pod (validated by the provider).

    :param persistent_volumes: ``(claim name, mount path)`` pairs.
    :param labels: extra labels; the run and provider labels and
        ``app.kubernetes.io/managed-by`` are added.
    """

    image: str
    run_id: str
    init_cpu: str
    max_cpu: str
    init_mem: str
    max_mem: str
    worker_init: str = ""
    gpus_per_pod: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    user_id: int | None = None
    group_id: int | None = None
    run_as_non_root: bool = False
    secret: str | None = None
    persistent_volumes: tuple[tuple[str, str], ...] = ()
    #: the provider's own id (its pods' PROVIDER_LABEL); the run id when empty
    provider_id: str = ""
    service_account_name: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def container_script(worker_init: str, command: str, tasks_per_node: int) -> str:
    """The worker container's bash script: ``worker_init`` under ``set -e`` (so a failing
    line fails the pod with its exit code), then the command. A single copy is
    ``exec``-ed, so it receives the SIGTERM Kubernetes sends when the pod is deleted."""
    lines = []
    if worker_init.strip():
        lines += ["set -e", worker_init.rstrip("\n"), "set +e"]
    if tasks_per_node == 1:
        lines.append(f"exec {command}")
    else:
        lines.append(SingleNodeLauncher(debug=False)(command, tasks_per_node, 1).rstrip("\n"))
    return "\n".join(lines) + "\n"


def build_manifest(
    shape: PodShape, name: str, namespace: str, command: str, tasks_per_node: int = 1
) -> dict[str, Any]:
    """The provider's pod manifest for one block (a fresh dict every call)."""
    limits: dict[str, str] = {"cpu": shape.max_cpu, "memory": shape.max_mem}
    if shape.gpus_per_pod:
        limits[shape.gpu_resource] = str(shape.gpus_per_pod)
    cores = max(1, int(quantity_value(shape.max_cpu)))
    container: dict[str, Any] = {
        "name": WORKER_CONTAINER,
        "image": shape.image,
        "command": ["/bin/bash", "-c"],
        "args": [container_script(shape.worker_init, command, tasks_per_node)],
        "resources": {
            "requests": {"cpu": shape.init_cpu, "memory": shape.init_mem},
            "limits": limits,
        },
        "env": [
            {"name": "PLAIT_CORES", "value": str(cores)},
            {"name": "PARSL_CORES", "value": str(cores)},
        ],
    }
    security: dict[str, Any] = {}
    if shape.user_id is not None:
        security["runAsUser"] = shape.user_id
    if shape.group_id is not None:
        security["runAsGroup"] = shape.group_id
    if shape.run_as_non_root:
        security["runAsNonRoot"] = True
    if security:
        container["securityContext"] = security
    if shape.persistent_volumes:
        container["volumeMounts"] = [
            {"name": claim, "mountPath": path} for claim, path in shape.persistent_volumes
        ]
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if shape.persistent_volumes:
        spec["volumes"] = [
            {"name": claim, "persistentVolumeClaim": {"claimName": claim}}
            for claim, _ in shape.persistent_volumes
        ]
    if shape.secret:
        spec["imagePullSecrets"] = [{"name": shape.secret}]
    if shape.service_account_name:
        spec["serviceAccountName"] = shape.service_account_name
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {
            **shape.labels,
            MANAGED_BY[0]: MANAGED_BY[1],
            RUN_LABEL: shape.run_id,
            PROVIDER_LABEL: shape.provider_id or shape.run_id,
        },
    }
    if shape.annotations:
        metadata["annotations"] = dict(shape.annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
