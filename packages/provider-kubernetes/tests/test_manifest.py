"""The provider's pod manifests, pod names, quantities and the container's script."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from plait_provider_kubernetes.manifest import (
    MANAGED_BY,
    PodShape,
    build_manifest,
    container_script,
    pod_name,
    quantity,
    quantity_value,
)
from plait_provider_kubernetes.template import PROVIDER_LABEL, RUN_LABEL, WORKER_CONTAINER


def shape(**changes: Any) -> PodShape:
    fields: dict[str, Any] = dict(
        image="img:1", run_id="run1", init_cpu="1", max_cpu="2", init_mem="250Mi", max_mem="1Gi"
    )
    fields.update(changes)
    return PodShape(**fields)


def build(**changes: Any) -> dict[str, Any]:
    return build_manifest(shape(**changes), "pod-1", "ns1", "manager --x", 1)


def test_the_plain_manifest() -> None:
    manifest = build()
    assert manifest["metadata"] == {
        "name": "pod-1",
        "namespace": "ns1",
        "labels": {MANAGED_BY[0]: MANAGED_BY[1], RUN_LABEL: "run1", PROVIDER_LABEL: "run1"},
    }
    spec = manifest["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["name"] == WORKER_CONTAINER
    assert container["image"] == "img:1"
    assert container["command"] == ["/bin/bash", "-c"]
    assert container["args"] == ["exec manager --x\n"]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "250Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert {"name": "PLAIT_CORES", "value": "2"} in container["env"]
    assert set(spec) == {"restartPolicy", "containers"}


# (parameter changes, path into the manifest, expected value)
FIELDS: list[tuple[dict[str, Any], tuple[Any, ...], Any]] = [
    ({"gpus_per_pod": 2}, ("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu"), "2"),
    (
        {"gpus_per_pod": 1, "gpu_resource": "amd.com/gpu"},
        ("spec", "containers", 0, "resources", "limits", "amd.com/gpu"),
        "1",
    ),
    ({"user_id": 1000}, ("spec", "containers", 0, "securityContext"), {"runAsUser": 1000}),
    (
        {"user_id": 0, "group_id": 100, "run_as_non_root": True},
        ("spec", "containers", 0, "securityContext"),
        {"runAsUser": 0, "runAsGroup": 100, "runAsNonRoot": True},
    ),
    ({"secret": "regcred"}, ("spec", "imagePullSecrets"), [{"name": "regcred"}]),
    ({"service_account_name": "runner"}, ("spec", "serviceAccountName"), "runner"),
    (
        {"persistent_volumes": (("data", "/data"),)},
        ("spec", "volumes"),
        [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
    ),
    (
        {"persistent_volumes": (("data", "/data"), ("home", "/home/u"))},
        ("spec", "containers", 0, "volumeMounts"),
        [{"name": "data", "mountPath": "/data"}, {"name": "home", "mountPath": "/home/u"}],
    ),
    ({"annotations": {"a/b": "c"}}, ("metadata", "annotations"), {"a/b": "c"}),
    ({"labels": {"team": "x"}}, ("metadata", "labels", "team"), "x"),
    ({"labels": {RUN_LABEL: "forged"}}, ("metadata", "labels", RUN_LABEL), "run1"),
]


@pytest.mark.parametrize(("changes", "path", "expected"), FIELDS)
def test_each_parameter_lands_in_its_field(
    changes: dict[str, Any], path: tuple[Any, ...], expected: Any
) -> None:
    value: Any = build(**changes)
    for step in path:
        value = value[step]
    assert value == expected


def test_every_call_gives_a_fresh_manifest() -> None:
    first = build(labels={"team": "x"})
    first["metadata"]["labels"]["team"] = "changed"
    assert build(labels={"team": "x"})["metadata"]["labels"]["team"] == "x"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("plait.htex.block-0", "plait-htex-block-0-abcd1234"),
        ("My_Pods", "my-pods-abcd1234"),
        ("---", "plait-abcd1234"),
        ("x" * 80, "x" * 54 + "-abcd1234"),
        ("a" * 53 + ".b", "a" * 53 + "-abcd1234"),
    ],
)
def test_pod_names_are_valid_hostnames(prefix: str, expected: str) -> None:
    name = pod_name(prefix, "abcd1234")
    assert name == expected
    assert len(name) <= 63


@pytest.mark.parametrize(
    ("given", "text", "value"),
    [
        (1, "1", 1.0),
        (0.5, "0.5", 0.5),
        ("500m", "500m", 0.5),
        ("250Mi", "250Mi", 250 * 2**20),
        ("2G", "2G", 2e9),
        ("1e3", "1e3", 1000.0),
        (" 4 ", "4", 4.0),
    ],
)
def test_quantities(given: Any, text: str, value: float) -> None:
    assert quantity(given) == text
    assert quantity_value(text) == value


@pytest.mark.parametrize("bad", ["", "1.5.2", "2 GB", "-1", "ten", True, None])
def test_bad_quantities(bad: Any) -> None:
    with pytest.raises(ValueError):
        quantity(bad)


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )


def test_a_failing_worker_init_line_fails_the_container_with_its_status() -> None:
    result = run(container_script("echo init\n(exit 7)\necho not-reached", "echo command", 1))
    assert result.returncode == 7
    assert result.stdout == "init\n"


def test_the_command_runs_after_worker_init_and_gives_its_status() -> None:
    result = run(container_script("export GREETING=hi", "bash -c 'echo $GREETING; exit 4'", 1))
    assert (result.returncode, result.stdout) == (4, "hi\n")


def test_several_tasks_per_node_start_one_copy_each() -> None:
    result = run(container_script("", "bash -c 'echo rank-$PLAIT_WORKER_RANK'", 3))
    assert result.returncode == 0
    assert sorted(result.stdout.split()) == ["rank-0", "rank-1", "rank-2"]
