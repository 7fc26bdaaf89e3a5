"""KubernetesProvider against the stand-in cluster: states and their reasons, failed pods,
API errors, polling cost, cancel and the clean-up at exit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from plait.errors import SubmitException
from plait.providers.base import JobState, JobStatus
from plait.testing import wait_until
from plait_provider_kubernetes import KubernetesProvider
from plait_provider_kubernetes.api import KubernetesAPIError
from plait_provider_kubernetes.testing import TEST_NAMESPACE, KubeCluster, pod_processes

TIMEOUT = 30.0


def make(kube: KubeCluster, **kwargs: Any) -> KubernetesProvider:
    kwargs.setdefault("namespace", TEST_NAMESPACE)
    kwargs.setdefault("status_polling_interval", 0.1)
    kwargs.setdefault("image", "python:3.11")
    return KubernetesProvider(kubeconfig=kube.kubeconfig, **kwargs)


def listed(kube: KubeCluster, provider: KubernetesProvider) -> list[str]:
    api = kube.client()
    try:
        response = api.list_namespaced_pod(
            provider.namespace, label_selector=provider.selector, _preload_content=False
        )
        return [item["metadata"]["name"] for item in json.loads(response.data)["items"]]
    finally:
        api.api_client.close()


def wait_for(provider: KubernetesProvider, job: str, done: Any) -> JobStatus:
    def reached() -> JobStatus | None:
        status = provider.status([job])[0]
        return status if done(status) else None

    found: JobStatus = wait_until(reached, TIMEOUT, 0.05, what=f"the wanted state of {job}")
    return found


def test_a_failing_worker_init_is_reported_with_its_exit_code_and_log_then_deleted(
    kube: KubeCluster, tmp_path: Path
) -> None:
    provider = make(kube, worker_init="echo preparing\necho 'no such venv' >&2\nexit 1")
    provider.script_dir = str(tmp_path / "scripts")
    job = provider.submit("echo never-run", 1, "plait.htex.block-0")
    status = wait_for(provider, job, lambda s: s.terminal)
    assert status.state is JobState.FAILED
    assert status.exit_code == 1
    assert status.message is not None
    assert status.message.startswith(f"pod {job}: exit code 1; last lines of its log:\n")
    assert status.message.endswith("preparing\nno such venv")
    assert status.stdout_path == str(tmp_path / "scripts" / f"{job}.log")
    assert (tmp_path / "scripts" / f"{job}.json").exists()  # the manifest it sent
    # deleted: gone once the kubelet (the pod runner) has confirmed it stopped
    wait_until(lambda: job not in listed(kube, provider), TIMEOUT, what="the failed pod deleted")
    assert provider.status([job]) == [status]  # recorded: later polls do not change it


def test_one_list_call_per_poll_for_all_pods_reused_for_the_polling_interval(
    kube: KubeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = make(kube, status_polling_interval=60.0)
    jobs = [provider.submit("sleep 300", 1, "poll") for _ in range(5)]
    calls: list[str] = []
    original = provider._api.list
    monkeypatch.setattr(provider._api, "list", lambda sel: calls.append(sel) or original(sel))
    first = provider.status(jobs)
    assert calls == [provider.selector]
    assert all(s.state in (JobState.PENDING, JobState.RUNNING) for s in first), first
    provider.status(jobs)
    provider.status(jobs[:2])
    assert len(calls) == 1, "a poll within status_polling_interval asked the API again"
    assert provider.cancel(jobs) == [True] * 5


def test_an_unschedulable_pod_stays_pending_with_the_schedulers_message(
    kube: KubeCluster,
) -> None:
    provider = make(kube, gpus_per_pod=2)  # the node has one GPU
    job = provider.submit("sleep 300", 1, "gpus")
    status = wait_for(provider, job, lambda s: s.message)
    assert status.state is JobState.PENDING
    assert status.message == (
        f"pod {job}: Unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    provider.cancel([job])


def test_a_pod_template_node_selector_no_node_matches_is_unschedulable(
    kube: KubeCluster,
) -> None:
    provider = make(kube, pod_template={"spec": {"nodeSelector": {"disk": "ssd"}}})
    job = provider.submit("sleep 300", 1, "selector")
    status = wait_for(provider, job, lambda s: s.message)
    assert status.state is JobState.PENDING
    assert "didn't match Pod's node affinity/selector" in (status.message or "")
    provider.cancel([job])


def test_a_gpu_that_fits_runs(kube: KubeCluster) -> None:
    provider = make(kube, gpus_per_pod=1)
    job = provider.submit("true", 1, "gpu")
    assert wait_for(provider, job, lambda s: s.terminal).state is JobState.COMPLETED


def test_an_image_that_cannot_be_pulled_fails_the_block_with_the_kubelets_reason(
    kube: KubeCluster,
) -> None:
    provider = make(kube, image="registry.invalid/nosuch:1")
    job = provider.submit("true", 1, "image")
    status = wait_for(provider, job, lambda s: s.terminal)
    assert status.state is JobState.FAILED
    assert status.message is not None
    assert status.message.startswith(
        f'pod {job}: ImagePullBackOff: Back-off pulling image "registry.invalid/nosuch:1"'
    )
    wait_until(lambda: job not in listed(kube, provider), TIMEOUT, what="the pod deleted")


def test_a_pod_deleted_from_outside_is_cancelled_with_the_reason(kube: KubeCluster) -> None:
    provider = make(kube)
    job = provider.submit("sleep 300", 1, "outside")
    wait_for(provider, job, lambda s: s.state is JobState.RUNNING)
    api = kube.client()
    try:
        api.delete_namespaced_pod(job, TEST_NAMESPACE, grace_period_seconds=0)
    finally:
        api.api_client.close()
    status = wait_for(provider, job, lambda s: s.terminal)
    assert status.state is JobState.CANCELLED
    assert status.message == (
        f"pod {job} was deleted by another client (the API no longer lists it)"
    )
    wait_until(lambda: not pod_processes({job}), TIMEOUT, what="its processes to end")


@pytest.mark.parametrize(
    ("changes", "status", "quoted", "hint"),
    [
        (
            {"pod_template": {"spec": {"tolerations": [{"key": "k", "operator": "Maybe"}]}}},
            422,
            'is invalid: spec.tolerations[0].operator: Unsupported value: "Maybe": supported '
            'values: "Equal", "Exists"',
            "check pod_template",
        ),
        (
            {"namespace": "nosuch"},
            404,
            'namespaces "nosuch" not found',
            "check namespace='nosuch'",
        ),
    ],
    ids=["422", "404"],
)
def test_a_refused_pod_is_a_submit_exception_naming_it_and_quoting_the_api(
    kube: KubeCluster, changes: dict[str, Any], status: int, quoted: str, hint: str
) -> None:
    provider = make(kube, **changes)
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "refused")
    text = str(info.value)
    assert text.startswith("cannot submit job 'refused-")
    assert f"the Kubernetes API answered {status} " in text
    assert quoted in text
    assert hint in text
    assert isinstance(info.value.__cause__, KubernetesAPIError)
    assert info.value.__cause__.status == status


def test_a_conflicting_pod_name_is_refused_with_409(kube: KubeCluster) -> None:
    provider = make(kube)
    manifest = provider.manifest("conflict-1", "sleep 300")
    provider._api.create(manifest)
    try:
        with pytest.raises(KubernetesAPIError) as info:
            provider._api.create(manifest)
        assert info.value.status == 409
        assert str(info.value) == (
            f"cannot create pod conflict-1 in namespace {TEST_NAMESPACE}: the Kubernetes API "
            'answered 409 AlreadyExists: pods "conflict-1" already exists'
        )
    finally:
        provider._api.delete("conflict-1")


def test_an_unreachable_api_is_a_bounded_submit_exception(
    kube: KubeCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = Path(kube.kubeconfig).read_text().replace(f":{kube.port}", f":{port}")
    (tmp_path / "kubeconfig").write_text(config)
    provider = KubernetesProvider(
        image="python:3.11", kubeconfig=str(tmp_path / "kubeconfig"), api_retries=2
    )
    began = time.monotonic()
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "unreachable")
    assert time.monotonic() - began < 5.0
    assert "the Kubernetes API did not answer" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert "reachable" in str(info.value)
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 2


def test_a_missing_kubeconfig_names_the_file(tmp_path: Path) -> None:
    provider = KubernetesProvider(image="python:3.11", kubeconfig=str(tmp_path / "nope"))
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "noconfig")
    text = str(info.value)
    assert f"cannot load the Kubernetes configuration: {tmp_path / 'nope'}: " in text
    assert "did not answer" not in text and "reachable" not in text


def test_a_status_poll_the_api_refuses_is_tolerated_then_unknown(
    kube: KubeCluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make(kube, max_failed_polls=2)
    job = provider.submit("sleep 300", 1, "refusedpoll")
    error = KubernetesAPIError("list pods", 403, "Forbidden", "pods is forbidden: no list")

    def refuse(selector: str) -> list[dict[str, Any]]:
        raise error

    monkeypatch.setattr(provider._api, "list", refuse)
    provider._last_poll = -1e9
    assert provider.status([job])[0].state is JobState.PENDING  # first failure: tolerated
    provider._last_poll = -1e9
    status = provider.status([job])[0]
    assert status.state is JobState.UNKNOWN
    assert status.message == (
        f"pod {job}: listing pods failed 2 times in a row: cannot list pods: the Kubernetes "
        "API answered 403 Forbidden: pods is forbidden: no list"
    )
    assert len([r for r in caplog.records if "status poll failed" in r.getMessage()]) == 2
    monkeypatch.undo()
    assert provider.cancel([job]) == [True]


def test_cancel_deletes_the_pod_and_unknown_ids_are_refused(kube: KubeCluster) -> None:
    provider = make(kube)
    job = provider.submit("sleep 300", 1, "cancel")
    wait_for(provider, job, lambda s: s.state is JobState.RUNNING)
    assert provider.cancel([job, "someone-elses-pod"]) == [True, False]
    assert provider.status([job])[0].state is JobState.CANCELLED
    wait_until(lambda: job not in listed(kube, provider), TIMEOUT, what="the pod to go")
    wait_until(lambda: not pod_processes({job}), TIMEOUT, what="its processes to end")


def test_delete_all_removes_every_pod_of_the_run_and_waits(kube: KubeCluster) -> None:
    provider = make(kube)
    jobs = [provider.submit("sleep 300", 1, "all") for _ in range(2)]
    # a pod of the run the provider does not track (say a create whose answer was lost)
    provider._api.create(provider.manifest("untracked-1", "sleep 300"))
    wait_until(lambda: pod_processes({*jobs, "untracked-1"}), TIMEOUT, what="pods running")
    assert provider.delete_all(timeout=TIMEOUT) == []
    assert listed(kube, provider) == []
    wait_until(lambda: not pod_processes({*jobs, "untracked-1"}), TIMEOUT, what="processes to end")


def test_at_interpreter_exit_the_runs_pods_are_deleted(kube: KubeCluster, tmp_path: Path) -> None:
    """A script that submits a pod and exits without cancelling it leaves nothing behind."""
    script = tmp_path / "leave.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from plait_provider_kubernetes import KubernetesProvider
            provider = KubernetesProvider(
                image="python:3.11", namespace={TEST_NAMESPACE!r}, kubeconfig={kube.kubeconfig!r}
            )
            print(provider.submit("sleep 300", 1, "left"), provider.selector, flush=True)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    job, selector = result.stdout.split()
    api = kube.client()
    try:
        response = api.list_namespaced_pod(
            TEST_NAMESPACE, label_selector=selector, _preload_content=False
        )
        assert json.loads(response.data)["items"] == []
    finally:
        api.api_client.close()
    wait_until(lambda: not pod_processes({job}), TIMEOUT, what="its processes to end")
