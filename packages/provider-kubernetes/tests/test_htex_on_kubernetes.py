"""End to end: HTEX on KubernetesProvider, its blocks pods the pod runner starts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import k8s_apps
import pytest

import plait
from plait import Config
from plait.errors import ScalingFailed
from plait.testing import wait_until
from plait_executor_htex import HighThroughputExecutor, ManagerLost
from plait_provider_kubernetes import KubernetesProvider
from plait_provider_kubernetes.testing import (
    FORBIDDEN_NAMESPACE,
    NODE_LABELS,
    TEST_NAMESPACE,
    KubeCluster,
    pod_processes,
)

HB_PERIOD = 0.5
HB_THRESHOLD = 3.0
#: slack on top of the heartbeat threshold for a lost block to be noticed
MARGIN = 5.0
TIMEOUT = 60.0
TESTS_DIR = str(Path(__file__).resolve().parent)

#: what the issue asks a template to carry: a toleration, a node selector, a volume
#: (with its mount) and an extra env var; PYTHONPATH lets workers import k8s_apps
TEMPLATE: dict[str, Any] = {
    "spec": {
        "tolerations": [
            {"key": "plait.test/dedicated", "operator": "Exists", "effect": "NoSchedule"}
        ],
        "nodeSelector": dict(NODE_LABELS),
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [
            {
                "name": "plait-worker",
                "env": [
                    {"name": "PLAIT_TEST_VAR", "value": "from-the-template"},
                    {"name": "PYTHONPATH", "value": TESTS_DIR},
                ],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            }
        ],
    }
}


def make_htex(
    kube: KubeCluster, max_block_failures: int = 3, **kwargs: Any
) -> HighThroughputExecutor:
    kwargs.setdefault("namespace", TEST_NAMESPACE)
    kwargs.setdefault("pod_template", TEMPLATE)
    provider = KubernetesProvider(
        image="python:3.11",
        kubeconfig=kube.kubeconfig,
        status_polling_interval=0.2,
        max_cpu=1,
        init_cpu="500m",
        **kwargs,
    )
    return HighThroughputExecutor(
        label="htex-k8s",
        provider=provider,
        heartbeat_period=HB_PERIOD,
        heartbeat_threshold=HB_THRESHOLD,
        max_workers_per_node=1,
        max_block_failures=max_block_failures,
    )


@pytest.fixture
def kernel_cleanup() -> Iterator[None]:
    try:
        yield
    finally:
        plait.clear()


def pods(htex: HighThroughputExecutor) -> list[str]:
    return [job for job in htex.blocks.values() if job]


def listed(kube: KubeCluster, provider: KubernetesProvider) -> list[str]:
    api = kube.client()
    try:
        response = api.list_namespaced_pod(
            provider.namespace, label_selector=provider.selector, _preload_content=False
        )
        return [item["metadata"]["name"] for item in json.loads(response.data)["items"]]
    finally:
        api.api_client.close()


def test_tasks_run_in_pods_with_the_template_intact_and_nothing_left_after_exit(
    kube: KubeCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    template_before = json.dumps(TEMPLATE, sort_keys=True)
    htex = make_htex(kube)
    provider = htex.provider
    assert isinstance(provider, KubernetesProvider)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.5)
    began = time.monotonic()
    with plait.load(config) as dfk:
        assert k8s_apps.env_var("PLAIT_TEST_VAR").result(timeout=TIMEOUT) == "from-the-template"
        first_result = time.monotonic() - began
        (name,) = pods(htex)
        assert k8s_apps.env_var("HOSTNAME").result(timeout=TIMEOUT) == name
        api = kube.client()
        try:
            created = json.loads(
                api.read_namespaced_pod(name, TEST_NAMESPACE, _preload_content=False).data
            )
        finally:
            api.api_client.close()
        spec = created["spec"]
        assert spec["tolerations"] == TEMPLATE["spec"]["tolerations"]
        assert spec["nodeSelector"] == NODE_LABELS
        assert {"name": "scratch", "emptyDir": {}} in spec["volumes"]
        (worker,) = spec["containers"]
        assert {"name": "scratch", "mountPath": "/scratch"} in worker["volumeMounts"]
        assert {"name": "PLAIT_TEST_VAR", "value": "from-the-template"} in worker["env"]
        assert spec["restartPolicy"] == "Never"
        labels = created["metadata"]["labels"]
        assert labels["plait-run"] == provider.run_id == dfk.run_id  # the workflow's run
        assert f"plait-provider={labels['plait-provider']}" == provider.selector
        assert created["status"]["phase"] == "Running"
        assert (tmp_path / "runinfo").exists()
        assert pod_processes({name}), "the pod's manager runs as a local process"
    # `with` exit cancelled the block: the pod goes, and so do its processes
    wait_until(lambda: not listed(kube, provider), 15, 0.1, what="the run's pods to go")
    wait_until(lambda: not pod_processes({name}), 15, 0.1, what="the pod's processes to end")
    assert json.dumps(TEMPLATE, sort_keys=True) == template_before
    print(f"load() to first result: {first_result:.2f} s")


def test_a_pod_deleted_from_outside_fails_its_task_with_manager_lost_naming_it(
    kube: KubeCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    htex = make_htex(kube)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.5)
    with plait.load(config):
        pid_file = tmp_path / "pid"
        future = k8s_apps.pid_then_sleep(str(pid_file), 300)
        wait_until(pid_file.exists, TIMEOUT, 0.1, what="the task to start")
        (name,) = pods(htex)
        api = kube.client()
        try:
            api.delete_namespaced_pod(name, TEST_NAMESPACE, _preload_content=False)
        finally:
            api.api_client.close()
        began = time.monotonic()
        with pytest.raises(ManagerLost) as info:
            future.result(timeout=HB_THRESHOLD + MARGIN + 10)
        took = time.monotonic() - began
        assert took < HB_THRESHOLD + MARGIN, f"ManagerLost after {took:.1f} s"
        assert info.value.job_id == name
        assert f"provider job {name}" in str(info.value)
        assert info.value.job_state == "CANCELLED", str(info.value)
        assert "deleted by another client" in str(info.value)
        # the strategy replaces the block, and new work runs there
        assert k8s_apps.add(20, 22).result(timeout=TIMEOUT) == 42
        assert len(pods(htex)) == 2
    wait_until(lambda: not pod_processes(set(pods(htex))), 15, 0.1, what="pod processes to end")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            # a request above its limit: valid for the client's model, refused by the API
            {
                "pod_template": {
                    "spec": {
                        "containers": [
                            {"name": "plait-worker", "resources": {"requests": {"cpu": "4"}}}
                        ]
                    }
                }
            },
            [
                "422 Invalid",
                'is invalid: spec.containers[0].resources.requests: Invalid value: "4": must '
                "be less than or equal to cpu limit of 1",
                "check pod_template",
            ],
        ),
        (
            {"namespace": FORBIDDEN_NAMESPACE},
            [
                "403 Forbidden",
                'pods is forbidden: User "system:serviceaccount:default:plait-test" cannot '
                f'create resource "pods" in API group "" in the namespace "{FORBIDDEN_NAMESPACE}"',
                "RBAC",
            ],
        ),
    ],
    ids=["422", "403"],
)
def test_an_api_refusal_fails_the_tasks_quoting_the_api_and_naming_the_pod(
    kube: KubeCluster,
    tmp_path: Path,
    kernel_cleanup: None,
    changes: dict[str, Any],
    expected: list[str],
) -> None:
    htex = make_htex(kube, max_block_failures=1, **changes)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.2)
    with plait.load(config):
        future = k8s_apps.add(1, 2)
        with pytest.raises(ScalingFailed) as info:
            future.result(timeout=TIMEOUT)
    message = str(info.value)
    for text in expected:
        assert text in message, message
    (status,) = htex.block_status.values()
    assert status.state.name == "FAILED"
    assert "cannot submit job 'plait-htex-k8s-block-0-" in (status.message or "")
