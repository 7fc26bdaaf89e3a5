"""``pod_template``: the user's part of a pod manifest, merged into the provider's.

Parsl exposes pod settings one parameter at a time, and every missing one
(tolerations, node selectors, volumes, security contexts...) blocked someone for a
release. Here the user writes any part of the pod in manifest form and it is
deep-merged with what the provider builds:

* dicts merge key by key, recursively; where both set a plain value the template's wins;
* lists whose items all have a ``name`` (``env``, ``volumes``, ``volumeMounts``,
  ``containers``, ``imagePullSecrets``...) merge item by item by name, new names
  appended;
* any other list (``tolerations``, ``args`` of a sidecar...) is appended to;
* in ``spec.containers`` the provider's container is called :data:`WORKER_CONTAINER`;
  a template container of that name, or the only container of a template whose one
  container has no name, merges into it; every other container is a sidecar.

A few fields belong to the provider, because blocks stop working if they change
(:func:`check_template` names them). The user's dict is never modified: the
result shares no object with it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from plait.errors import ConfigError

#: The name of the container that runs the block's command.
WORKER_CONTAINER = "plait-worker"
#: The label every pod carries, valued with the id of the workflow run it serves.
RUN_LABEL = "plait-run"
#: The label every pod of one provider carries, valued with that provider's own id:
#: the provider finds its pods by it (one run may have several providers).
PROVIDER_LABEL = "plait-provider"

#: metadata fields the provider sets, and what to use instead.
_OWNED_METADATA = {
    "name": "the provider names each pod after its job (use pod_name= for the prefix)",
    "generateName": "the provider names each pod after its job (use pod_name= for the prefix)",
    "namespace": "use the provider's namespace= parameter",
}
#: worker-container fields the provider sets.
_OWNED_WORKER = {
    "command": "the worker container runs the block's command (use worker_init= to add lines "
    "before it)",
    "args": "the worker container runs the block's command (use worker_init= to add lines "
    "before it)",
}


def check_template(template: object) -> dict[str, Any]:
    """``template`` as a dict, after checking it sets nothing the provider owns.

    :raises plait.errors.ConfigError: naming the field (``pod_template.spec.restartPolicy``)
        and what to do instead.
    """
    if not isinstance(template, Mapping):
        raise ConfigError("pod_template", template, "a dict in Kubernetes pod-manifest form")
    for key, expected in (("apiVersion", "v1"), ("kind", "Pod")):
        if key in template and template[key] != expected:
            raise ConfigError(f"pod_template.{key}", template[key], repr(expected))
    if "status" in template:
        raise ConfigError(
            "pod_template.status", template["status"], "", "the cluster sets a pod's status"
        )
    metadata = _section(template, "metadata", "pod_template")
    for key, why in _OWNED_METADATA.items():
        if key in metadata:
            raise ConfigError(f"pod_template.metadata.{key}", metadata[key], "", why)
    labels = _section(metadata, "labels", "pod_template.metadata")
    for label in (RUN_LABEL, PROVIDER_LABEL):
        if label in labels:
            raise ConfigError(
                f"pod_template.metadata.labels.{label}",
                labels[label],
                "",
                "the provider labels its pods with the run and itself, and finds them by it",
            )
    spec = _section(template, "spec", "pod_template")
    if spec.get("restartPolicy", "Never") != "Never":
        raise ConfigError(
            "pod_template.spec.restartPolicy",
            spec["restartPolicy"],
            "'Never'",
            "a block whose command ends has ended; a restarted manager would run as a "
            "block nobody tracks",
        )
    containers = spec.get("containers", [])
    if not isinstance(containers, list):
        raise ConfigError("pod_template.spec.containers", containers, "a list of containers")
    for index, container in enumerate(_named_containers(containers)):
        if container.get("name") != WORKER_CONTAINER:
            continue
        for key, why in _OWNED_WORKER.items():
            if key in container:
                field = f"pod_template.spec.containers[{index}].{key}"
                raise ConfigError(field, container[key], "", why)
    return dict(template)


def merge_template(manifest: dict[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` (the provider's, consumed) with ``template`` (checked by
    :func:`check_template`, left untouched) merged in."""
    overlay = copy.deepcopy(dict(template))
    spec = overlay.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("containers"), list):
        spec["containers"] = _named_containers(spec["containers"])
    merged = _merge(manifest, overlay)
    assert isinstance(merged, dict)
    return merged


def _merge(base: Any, overlay: Any) -> Any:
    """``overlay`` merged into ``base``; both are owned by the caller, so no copying."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        for key, value in overlay.items():
            base[key] = _merge(base[key], value) if key in base else value
        return base
    if isinstance(base, list) and isinstance(overlay, list):
        if _by_name(base) and _by_name(overlay):
            index = {item["name"]: position for position, item in enumerate(base)}
            for item in overlay:
                position = index.get(item["name"])
                if position is None:
                    base.append(item)
                else:
                    base[position] = _merge(base[position], item)
            return base
        return base + overlay
    return overlay


def _by_name(items: list[Any]) -> bool:
    """Whether every item is a dict with a string ``name``: such lists merge by name."""
    return all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)


def _named_containers(containers: list[Any]) -> list[Any]:
    """The template's containers, the worker container named: the only container of a
    one-container template may leave its name out.

    :raises plait.errors.ConfigError: a container that is not a dict, or a sidecar
        without a name.
    """
    if len(containers) == 1 and isinstance(containers[0], dict) and "name" not in containers[0]:
        return [{**containers[0], "name": WORKER_CONTAINER}]
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            raise ConfigError(
                f"pod_template.spec.containers[{index}]", container, "a container (a dict)"
            )
        if not isinstance(container.get("name"), str):
            raise ConfigError(
                f"pod_template.spec.containers[{index}].name",
                container.get("name"),
                "a container name",
                f"a template with several containers names each; {WORKER_CONTAINER!r} is the "
                "one running the block, any other is a sidecar",
            )
    return containers


def _section(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}.{key}", value, "a dict")
    return value
