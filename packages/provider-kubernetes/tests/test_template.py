"""``pod_template`` merging and checking: tables of templates and the pods they give."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from plait.errors import ConfigError
from plait_provider_kubernetes.template import (
    RUN_LABEL,
    WORKER_CONTAINER,
    check_template,
    merge_template,
)


def base() -> dict[str, Any]:
    """A provider manifest, reduced to the fields the merge rules touch."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p-1", "labels": {RUN_LABEL: "r1", "team": "a"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": WORKER_CONTAINER,
                    "image": "img:1",
                    "command": ["/bin/bash", "-c"],
                    "args": ["exec manager"],
                    "env": [{"name": "PLAIT_CORES", "value": "2"}],
                    "resources": {"limits": {"cpu": "2", "memory": "500Mi"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }


def worker(pod: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in pod["spec"]["containers"] if c["name"] == WORKER_CONTAINER]
    return found


# (case, template, check on the merged pod)
MERGES: list[tuple[str, dict[str, Any], Any]] = [
    (
        "dicts merge recursively, template values win",
        {"metadata": {"labels": {"team": "b", "tier": "x"}, "annotations": {"a": "1"}}},
        lambda pod: (
            pod["metadata"]
            == {
                "name": "p-1",
                "labels": {RUN_LABEL: "r1", "team": "b", "tier": "x"},
                "annotations": {"a": "1"},
            }
        ),
    ),
    (
        "nested dicts keep the provider's other keys",
        {
            "spec": {
                "containers": [{"name": WORKER_CONTAINER, "resources": {"limits": {"cpu": "4"}}}]
            }
        },
        lambda pod: worker(pod)["resources"] == {"limits": {"cpu": "4", "memory": "500Mi"}},
    ),
    (
        "env merges by name: same name overrides, new name appended",
        {
            "spec": {
                "containers": [
                    {
                        "name": WORKER_CONTAINER,
                        "env": [{"name": "PLAIT_CORES", "value": "1"}, {"name": "X", "value": "y"}],
                    }
                ]
            }
        },
        lambda pod: (
            worker(pod)["env"]
            == [{"name": "PLAIT_CORES", "value": "1"}, {"name": "X", "value": "y"}]
        ),
    ),
    (
        "volumes merge by name",
        {
            "spec": {
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"readOnly": True}},
                    {"name": "scratch", "emptyDir": {}},
                ]
            }
        },
        lambda pod: (
            pod["spec"]["volumes"]
            == [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
                {"name": "scratch", "emptyDir": {}},
            ]
        ),
    ),
    (
        "volumeMounts merge by name",
        {
            "spec": {
                "containers": [
                    {
                        "name": WORKER_CONTAINER,
                        "volumeMounts": [
                            {"name": "data", "readOnly": True},
                            {"name": "scratch", "mountPath": "/scratch"},
                        ],
                    }
                ]
            }
        },
        lambda pod: (
            worker(pod)["volumeMounts"]
            == [
                {"name": "data", "mountPath": "/data", "readOnly": True},
                {"name": "scratch", "mountPath": "/scratch"},
            ]
        ),
    ),
    (
        "tolerations (no names) are appended",
        {"spec": {"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}},
        lambda pod: (
            pod["spec"]["tolerations"]
            == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
        ),
    ),
    (
        "lists without names append to the provider's",
        {"spec": {"containers": [{"name": WORKER_CONTAINER, "ports": [{"containerPort": 80}]}]}},
        lambda pod: worker(pod)["ports"] == [{"containerPort": 80}],
    ),
    (
        "the only container of a template, unnamed, is the worker container",
        {"spec": {"containers": [{"image": "other:2", "workingDir": "/w"}]}},
        lambda pod: (
            len(pod["spec"]["containers"]) == 1
            and worker(pod)["image"] == "other:2"
            and worker(pod)["workingDir"] == "/w"
            and worker(pod)["args"] == ["exec manager"]
        ),
    ),
    (
        "a container of another name is a sidecar, after the worker",
        {"spec": {"containers": [{"name": "proxy", "image": "envoy:1"}]}},
        lambda pod: (
            [c["name"] for c in pod["spec"]["containers"]] == [WORKER_CONTAINER, "proxy"]
            and pod["spec"]["containers"][1] == {"name": "proxy", "image": "envoy:1"}
        ),
    ),
    (
        "worker and sidecar in one template",
        {
            "spec": {
                "containers": [
                    {"name": "log-shipper", "image": "fluent:1"},
                    {"name": WORKER_CONTAINER, "securityContext": {"privileged": False}},
                ]
            }
        },
        lambda pod: (
            [c["name"] for c in pod["spec"]["containers"]] == [WORKER_CONTAINER, "log-shipper"]
            and worker(pod)["securityContext"] == {"privileged": False}
        ),
    ),
    (
        "new top-level spec fields come in whole",
        {"spec": {"nodeSelector": {"disk": "ssd"}, "priorityClassName": "high"}},
        lambda pod: (
            pod["spec"]["nodeSelector"] == {"disk": "ssd"}
            and pod["spec"]["priorityClassName"] == "high"
        ),
    ),
    (
        "restartPolicy Never is accepted",
        {"apiVersion": "v1", "kind": "Pod", "spec": {"restartPolicy": "Never"}},
        lambda pod: pod["spec"]["restartPolicy"] == "Never",
    ),
]


@pytest.mark.parametrize(("case", "template", "check"), MERGES, ids=[m[0] for m in MERGES])
def test_merge(case: str, template: dict[str, Any], check: Any) -> None:
    merged = merge_template(base(), check_template(template))
    assert check(merged), merged


@pytest.mark.parametrize(("case", "template", "check"), MERGES, ids=[m[0] for m in MERGES])
def test_the_users_template_is_never_modified_nor_shared(
    case: str, template: dict[str, Any], check: Any
) -> None:
    before = copy.deepcopy(template)
    merged = merge_template(base(), check_template(template))
    assert template == before
    _scribble(merged)  # changing the result changes nothing of the template
    assert template == before


def _scribble(value: Any) -> None:
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("scribbled")


# (template, field named in the error)
OWNED: list[tuple[dict[str, Any], str]] = [
    ({"metadata": {"name": "x"}}, "pod_template.metadata.name"),
    ({"metadata": {"generateName": "x-"}}, "pod_template.metadata.generateName"),
    ({"metadata": {"namespace": "other"}}, "pod_template.metadata.namespace"),
    ({"metadata": {"labels": {RUN_LABEL: "mine"}}}, f"pod_template.metadata.labels.{RUN_LABEL}"),
    ({"spec": {"restartPolicy": "Always"}}, "pod_template.spec.restartPolicy"),
    ({"spec": {"restartPolicy": "OnFailure"}}, "pod_template.spec.restartPolicy"),
    (
        {"spec": {"containers": [{"name": WORKER_CONTAINER, "command": ["sleep"]}]}},
        "pod_template.spec.containers[0].command",
    ),
    (
        {"spec": {"containers": [{"name": "side"}, {"name": WORKER_CONTAINER, "args": ["x"]}]}},
        "pod_template.spec.containers[1].args",
    ),
    ({"spec": {"containers": [{"command": ["sleep"]}]}}, "pod_template.spec.containers[0].command"),
    (
        {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}},
        "pod_template.spec.containers[0].name",
    ),
    ({"spec": {"containers": "worker"}}, "pod_template.spec.containers"),
    ({"spec": {"containers": ["worker", {"name": "x"}]}}, "pod_template.spec.containers[0]"),
    ({"status": {"phase": "Running"}}, "pod_template.status"),
    ({"kind": "Deployment"}, "pod_template.kind"),
    ({"metadata": []}, "pod_template.metadata"),
]


@pytest.mark.parametrize(("template", "field"), OWNED, ids=[o[1] for o in OWNED])
def test_fields_the_provider_owns_are_config_errors(template: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_template(template)
    assert info.value.field == field
    assert field in str(info.value)


def test_a_template_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match="pod-manifest form"):
        check_template(["not", "a", "pod"])
