"""The provider's parameters, its template check against the client's model, and the API
wrapper's bounded retries: no cluster needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from plait.errors import ConfigError
from plait_provider_kubernetes import KubernetesProvider
from plait_provider_kubernetes.api import KubernetesAPIError, PodAPI, load_api

# (parameters, field named by the ConfigError)
BAD: list[tuple[dict[str, Any], str]] = [
    ({"image": ""}, "image"),
    ({"image": "python 3"}, "image"),
    ({"namespace": "Not_A_Namespace"}, "namespace"),
    ({"nodes_per_block": 2}, "nodes_per_block"),
    ({"init_blocks": -1}, "init_blocks"),
    ({"min_blocks": 3, "max_blocks": 2}, "min_blocks"),
    ({"parallelism": 2}, "parallelism"),
    ({"init_cpu": "lots"}, "init_cpu"),
    ({"max_mem": "2 GB"}, "max_mem"),
    ({"init_cpu": 4, "max_cpu": 2}, "init_cpu"),
    ({"init_mem": "2Gi", "max_mem": "1Gi"}, "init_mem"),
    ({"worker_init": ["source venv"]}, "worker_init"),
    ({"user_id": -1}, "user_id"),
    ({"group_id": "users"}, "group_id"),
    ({"run_as_non_root": "yes"}, "run_as_non_root"),
    ({"secret": ""}, "secret"),
    ({"persistent_volumes": [("claim",)]}, "persistent_volumes"),
    ({"persistent_volumes": "claim:/data"}, "persistent_volumes"),
    ({"labels": {"a": 1}}, "labels"),
    ({"annotations": ["a"]}, "annotations"),
    ({"gpus_per_pod": -1}, "gpus_per_pod"),
    ({"gpu_resource": "gpu"}, "gpu_resource"),
    ({"status_polling_interval": 0}, "status_polling_interval"),
    ({"api_timeout": -1}, "api_timeout"),
    ({"api_retries": -1}, "api_retries"),
    ({"max_failed_polls": 0}, "max_failed_polls"),
    ({"pod_template": {"spec": {"restartPolicy": "Always"}}}, "pod_template.spec.restartPolicy"),
    # checked against the client's own V1Pod model: quantities are strings
    (
        {
            "pod_template": {
                "spec": {
                    "containers": [{"name": "plait-worker", "resources": {"limits": {"cpu": 4}}}]
                }
            }
        },
        "pod_template.spec.containers[0].resources.limits.cpu",
    ),
    # ... and a misspelt field is caught before anything reaches a cluster
    (
        {"pod_template": {"spec": {"tolerations": [{"key": "k", "operater": "Exists"}]}}},
        "pod_template.spec.tolerations[0].operater",
    ),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD, ids=[b[1] for b in BAD])
def test_bad_parameters_are_config_errors_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    kwargs.setdefault("image", "python:3.11")
    with pytest.raises(ConfigError) as info:
        KubernetesProvider(**kwargs)
    assert info.value.field == field


def test_construction_reads_no_configuration_and_sizes_workers_by_the_limits() -> None:
    provider = KubernetesProvider(
        image="python:3.11", kubeconfig="/nonexistent", max_cpu="3500m", max_mem="2Gi"
    )
    assert provider.cores_per_node == 3
    assert provider.mem_per_node == pytest.approx(2**31 / 1e9)
    assert provider.selector == f"plait-provider={provider.run_id}"  # no run yet: its own id
    provider.run_id = "run-7"  # the executor's, before its first block
    assert provider.run_id == "run-7"
    assert provider.manifest("p-1", "true")["metadata"]["labels"]["plait-run"] == "run-7"
    assert provider.selector != "plait-provider=run-7"
    assert repr(provider) == (
        "KubernetesProvider(image='python:3.11', max_cpu='3500m', max_mem='2Gi', "
        "kubeconfig='/nonexistent')"
    )


def test_every_provider_has_its_own_run_label() -> None:
    assert KubernetesProvider("a:1").run_id != KubernetesProvider("a:1").run_id


def test_an_unknown_context_names_the_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}]\n"
        "current-context: ctx\n"
    )
    with pytest.raises(KubernetesAPIError) as info:
        load_api(str(config), "nosuch")
    assert str(config) in str(info.value)
    assert "nosuch" in str(info.value)


class Flaky:
    """A call that raises the given errors in turn, then answers ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def api(retries: int = 3) -> PodAPI:
    def no_client() -> Any:
        raise AssertionError("no client is built for these calls")

    return PodAPI("ns", no_client, timeout=1.0, retries=retries, backoff=0.001)


def status(code: int, message: str) -> ApiException:
    error = ApiException(status=code, reason="Reason")
    error.body = f'{{"kind": "Status", "reason": "R{code}", "message": "{message}"}}'
    return error


def test_connection_errors_and_retryable_answers_are_retried() -> None:
    call = Flaky(
        urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection aborted."),
        status(503, "etcd is busy"),
    )
    assert api()._call("list pods", call) == "ok"
    assert call.calls == 4


def test_retries_are_bounded_and_the_last_error_is_quoted() -> None:
    call = Flaky(*[status(500, "internal error")] * 10)
    with pytest.raises(KubernetesAPIError) as info:
        api(retries=2)._call("list pods", call)
    assert call.calls == 3
    assert str(info.value) == (
        "cannot list pods: the Kubernetes API answered 500 R500: internal error"
    )


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_refusals_are_not_retried(code: int) -> None:
    call = Flaky(status(code, "no"))
    with pytest.raises(KubernetesAPIError) as info:
        api()._call("create pod p in namespace ns", call)
    assert call.calls == 1
    assert (info.value.status, info.value.message) == (code, "no")


def test_a_retried_create_that_finds_its_pod_succeeds() -> None:
    """The first attempt's answer was lost but the pod was made: 409 on the retry is ours."""

    class FakeClient:
        def __init__(self) -> None:
            self.errors: list[BaseException] = [
                urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
                status(409, 'pods "p" already exists'),
            ]

        def create_namespaced_pod(self, namespace: str, body: Any, **options: Any) -> Any:
            raise self.errors.pop(0)

    wrapper = PodAPI("ns", FakeClient, timeout=1.0, retries=3, backoff=0.001)  # type: ignore[arg-type]
    wrapper.create({"metadata": {"name": "p"}})
