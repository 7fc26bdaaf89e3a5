"""kube-apiserver's validation of a new pod, for the fields plait and its users set.

Each problem is a "cause" worded as the API server words it
(``spec.containers[0].image: Required value``); the emulator answers 422 with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_LABEL}$")
DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUALIFIED = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_SUFFIX.update({"P": 1e15, "E": 1e18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
_SUFFIX.update({"Pi": 2**50, "Ei": 2**60})
_SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_LABEL_TEXT = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_VALUE_TEXT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)


def _invalid(path: str, value: object, text: str) -> str:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return f"{path}: Invalid value: {shown}: {text}"


def _quantity(text: object) -> float | None:
    if not isinstance(text, str) or not _QUANTITY.match(text):
        return None
    number = re.match(r"^[+]?(\d+(\.\d*)?|\.\d+)", text)
    assert number is not None
    value, suffix = float(number.group(0)), text[number.end() :]
    if suffix[:1] in ("e", "E"):
        return float(value * 10 ** int(suffix[1:]))
    return float(value * _SUFFIX.get(suffix, 1))


def _key_causes(path: str, keys: Mapping[str, Any]) -> list[str]:
    """Label and annotation keys: an optional DNS-subdomain prefix and a name."""
    causes = []
    for key in keys:
        prefix, _, name = key.rpartition("/")
        if (prefix and not DNS_SUBDOMAIN.match(prefix)) or not (
            _QUALIFIED.match(name) and len(name) <= 63
        ):
            causes.append(
                _invalid(
                    f"{path}",
                    key,
                    "name part must consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character",
                )
            )
    return causes


def _container_causes(path: str, container: Mapping[str, Any], volumes: set[str]) -> list[str]:
    causes = []
    name = container.get("name")
    if not name:
        causes.append(f"{path}.name: Required value")
    elif not DNS_LABEL.match(name) or len(name) > 63:
        causes.append(_invalid(f"{path}.name", name, _LABEL_TEXT))
    if not container.get("image"):
        causes.append(f"{path}.image: Required value")
    for index, env in enumerate(container.get("env") or []):
        env_name = env.get("name")
        if not env_name:
            causes.append(f"{path}.env[{index}].name: Required value")
        elif not _ENV_NAME.match(env_name):
            causes.append(
                _invalid(
                    f"{path}.env[{index}].name",
                    env_name,
                    "a valid environment variable name must consist of alphabetic characters, "
                    "digits, '_', '-', or '.', and must not start with a digit",
                )
            )
    for index, mount in enumerate(container.get("volumeMounts") or []):
        if mount.get("name") not in volumes:
            causes.append(f'{path}.volumeMounts[{index}].name: Not found: "{mount.get("name")}"')
        if not mount.get("mountPath"):
            causes.append(f"{path}.volumeMounts[{index}].mountPath: Required value")
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource, value in (resources.get(kind) or {}).items():
            if _quantity(value) is None:
                causes.append(
                    _invalid(
                        f"{path}.resources.{kind}[{resource}]",
                        value,
                        "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$",
                    )
                )
    for resource, request in (resources.get("requests") or {}).items():
        limit = (resources.get("limits") or {}).get(resource)
        low, high = _quantity(request), _quantity(limit)
        if low is not None and high is not None and low > high:
            causes.append(
                _invalid(
                    f"{path}.resources.requests",
                    request,
                    f"must be less than or equal to {resource} limit of {limit}",
                )
            )
    return causes


def validate_pod(pod: Mapping[str, Any]) -> list[str]:
    """The causes kube-apiserver would give for refusing ``pod`` (empty: valid)."""
    causes: list[str] = []
    metadata = pod.get("metadata") or {}
    name = metadata.get("name")
    if not name:
        causes.append("metadata.name: Required value: name or generateName is required")
    elif not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(_invalid("metadata.name", name, _SUBDOMAIN_TEXT))
    labels = metadata.get("labels") or {}
    causes += _key_causes("metadata.labels", labels)
    for value in labels.values():
        if not isinstance(value, str) or (value and not _QUALIFIED.match(value)) or len(value) > 63:
            causes.append(_invalid("metadata.labels", value, _VALUE_TEXT))
    causes += _key_causes("metadata.annotations", metadata.get("annotations") or {})
    spec = pod.get("spec") or {}
    volumes: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        volume_name = volume.get("name")
        if not volume_name or not DNS_LABEL.match(volume_name):
            causes.append(_invalid(f"spec.volumes[{index}].name", volume_name, _LABEL_TEXT))
        elif volume_name in volumes:
            causes.append(f'spec.volumes[{index}].name: Duplicate value: "{volume_name}"')
        volumes.add(volume_name)
    containers = spec.get("containers") or []
    if not containers:
        causes.append("spec.containers: Required value")
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            path = f"spec.{group}[{index}]"
            causes += _container_causes(path, container, volumes)
            if container.get("name") in seen:
                causes.append(f'{path}.name: Duplicate value: "{container["name"]}"')
            seen.add(container.get("name"))
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(
            f'spec.restartPolicy: Unsupported value: "{policy}": supported values: '
            '"Always", "OnFailure", "Never"'
        )
    for index, toleration in enumerate(spec.get("tolerations") or []):
        path = f"spec.tolerations[{index}]"
        operator = toleration.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            causes.append(
                f'{path}.operator: Unsupported value: "{operator}": supported values: '
                '"Equal", "Exists"'
            )
        if operator == "Exists" and toleration.get("value"):
            causes.append(
                _invalid(
                    f"{path}.operator", operator, "value must be empty when `operator` is 'Exists'"
                )
            )
        effect = toleration.get("effect", "")
        if effect not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(
                f'{path}.effect: Unsupported value: "{effect}": supported values: '
                '"NoSchedule", "PreferNoSchedule", "NoExecute"'
            )
    causes += _key_causes("spec.nodeSelector", spec.get("nodeSelector") or {})
    return causes
