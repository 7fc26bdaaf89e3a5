"""The stand-in cluster answers like kube-apiserver and a kubelet where the provider or
the official client could tell the difference."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from plait.testing import wait_until
from plait_provider_kubernetes.testing import TEST_NAMESPACE, KubeCluster, pod_processes
from plait_provider_kubernetes.testing.selectors import (
    SelectorError,
    field_matcher,
    label_matcher,
)

TIMEOUT = 30.0


@pytest.fixture
def api(kube: KubeCluster) -> Iterator[client.CoreV1Api]:
    api = kube.client()
    try:
        yield api
    finally:
        api.api_client.close()


def pod(name: str, command: list[str] | None = None, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": command or ["true"]}],
        },
    }


def raw(response: Any) -> Any:
    return json.loads(response.data)


def names(api: client.CoreV1Api, **kwargs: Any) -> list[str]:
    items = raw(api.list_namespaced_pod(TEST_NAMESPACE, _preload_content=False, **kwargs))
    return sorted(item["metadata"]["name"] for item in items["items"])


def test_create_fills_in_what_the_api_server_adds(api: client.CoreV1Api) -> None:
    created = raw(api.create_namespaced_pod(TEST_NAMESPACE, pod("fill"), _preload_content=False))
    metadata = created["metadata"]
    assert metadata["namespace"] == TEST_NAMESPACE
    assert len(metadata["uid"]) == 36
    assert metadata["creationTimestamp"].endswith("Z")
    assert int(metadata["resourceVersion"]) > 0
    assert created["status"]["phase"] == "Pending"
    assert created["spec"]["terminationGracePeriodSeconds"] == 30
    read = api.read_namespaced_pod("fill", TEST_NAMESPACE)  # the client's strict model parses it
    assert read.metadata is not None and read.metadata.uid == metadata["uid"]


def test_resource_versions_grow_with_every_change(api: client.CoreV1Api) -> None:
    first = raw(api.create_namespaced_pod(TEST_NAMESPACE, pod("rv"), _preload_content=False))
    patched = raw(
        api.patch_namespaced_pod(
            "rv", TEST_NAMESPACE, {"metadata": {"labels": {"x": "1"}}}, _preload_content=False
        )
    )
    assert int(patched["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_generate_name(api: client.CoreV1Api) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "gen-"}
    made = {
        raw(api.create_namespaced_pod(TEST_NAMESPACE, body, _preload_content=False))["metadata"][
            "name"
        ]
        for _ in range(2)
    }
    assert len(made) == 2 and all(n.startswith("gen-") and len(n) == 9 for n in made)


def test_duplicates_are_409(api: client.CoreV1Api) -> None:
    api.create_namespaced_pod(TEST_NAMESPACE, pod("dup"), _preload_content=False)
    with pytest.raises(ApiException) as info:
        api.create_namespaced_pod(TEST_NAMESPACE, pod("dup"), _preload_content=False)
    assert info.value.status == 409
    assert json.loads(info.value.body)["message"] == 'pods "dup" already exists'


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"metadata": {"name": "Bad_Name"}}, 'metadata.name: Invalid value: "Bad_Name"'),
        ({"spec": {"containers": []}}, "spec.containers: Required value"),
        (
            {"spec": {"containers": [{"name": "main", "image": ""}]}},
            "spec.containers[0].image: Required value",
        ),
        (
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}},
            'spec.containers[1].name: Duplicate value: "a"',
        ),
        (
            {
                "spec": {
                    "containers": [
                        {
                            "name": "m",
                            "image": "x",
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                        }
                    ]
                }
            },
            'spec.containers[0].volumeMounts[0].name: Not found: "v"',
        ),
        (
            {"spec": {"containers": [{"name": "m", "image": "x", "env": [{"name": "1X"}]}]}},
            'spec.containers[0].env[0].name: Invalid value: "1X"',
        ),
        (
            {"spec": {"restartPolicy": "Sometimes"}},
            'spec.restartPolicy: Unsupported value: "Sometimes"',
        ),
        ({"metadata": {"labels": {"a": "b c"}}}, 'metadata.labels: Invalid value: "b c"'),
    ],
)
def test_invalid_pods_are_422_in_the_api_servers_words(
    api: client.CoreV1Api, change: dict[str, Any], cause: str
) -> None:
    body = pod("invalid")
    for section, values in change.items():
        body[section].update(values)
    with pytest.raises(ApiException) as info:
        api.create_namespaced_pod(TEST_NAMESPACE, body, _preload_content=False)
    assert info.value.status == 422
    message = json.loads(info.value.body)["message"]
    assert message.startswith(f'Pod "{body["metadata"]["name"]}" is invalid: ')
    assert cause in message


def test_label_and_field_selectors_filter_lists(api: client.CoreV1Api) -> None:
    for name, labels in (("sel-a", {"app": "x", "tier": "web"}), ("sel-b", {"app": "y"})):
        api.create_namespaced_pod(TEST_NAMESPACE, pod(name, **labels), _preload_content=False)
    assert names(api, label_selector="app=x") == ["sel-a"]
    assert names(api, label_selector="app in (x,y),!tier") == ["sel-b"]
    assert names(api, field_selector="metadata.name=sel-b") == ["sel-b"]
    with pytest.raises(ApiException) as info:
        names(api, label_selector="app in x")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": "1"}, False),
        ("a in (1, 2),b notin (3)", {"a": "2", "b": "4"}, True),
        ("a in (1,2),b notin (3)", {"a": "2", "b": "3"}, False),
        ("example.com/a=x", {"example.com/a": "x"}, True),
    ],
)
def test_label_selector_table(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_matcher(selector)({"metadata": {"labels": labels}}) is expected


def test_bad_selectors() -> None:
    with pytest.raises(SelectorError):
        label_matcher("a in 1")
    with pytest.raises(SelectorError):
        field_matcher("spec.containers=x")
    assert field_matcher("status.phase!=Running")({"status": {"phase": "Pending"}})


def test_a_watch_streams_matching_events_and_ends_after_its_timeout(
    api: client.CoreV1Api,
) -> None:
    api.create_namespaced_pod(TEST_NAMESPACE, pod("watched", app="w"), _preload_content=False)
    api.create_namespaced_pod(TEST_NAMESPACE, pod("unwatched", app="u"), _preload_content=False)
    began = time.monotonic()
    events = [
        (event["type"], event["raw_object"]["metadata"]["name"])
        for event in watch.Watch().stream(
            api.list_namespaced_pod,
            TEST_NAMESPACE,
            label_selector="app=w",
            timeout_seconds=1,
        )
    ]
    assert ("ADDED", "watched") in events
    assert all(name == "watched" for _, name in events)
    assert 0.9 <= time.monotonic() - began < 10


def test_a_running_pod_logs_and_a_waiting_one_has_none_yet(
    api: client.CoreV1Api, kube: KubeCluster
) -> None:
    command = ["/bin/bash", "-c", "for i in 1 2 3 4; do echo line-$i; done; echo $HOSTNAME"]
    api.create_namespaced_pod(TEST_NAMESPACE, pod("logs", command), _preload_content=False)
    wait_until(
        lambda: api.read_namespaced_pod("logs", TEST_NAMESPACE).status.phase == "Succeeded",  # type: ignore[union-attr]
        TIMEOUT,
        what="the pod to succeed",
    )
    assert (
        api.read_namespaced_pod_log("logs", TEST_NAMESPACE)
        == "line-1\nline-2\nline-3\nline-4\nlogs\n"
    )
    assert api.read_namespaced_pod_log("logs", TEST_NAMESPACE, tail_lines=2) == "line-4\nlogs\n"
    body = pod("waiting")
    body["spec"]["nodeSelector"] = {"no": "node"}
    api.create_namespaced_pod(TEST_NAMESPACE, body, _preload_content=False)
    with pytest.raises(ApiException) as info:
        api.read_namespaced_pod_log("waiting", TEST_NAMESPACE)
    assert info.value.status == 400
    assert "is waiting to start" in json.loads(info.value.body)["message"]


def test_graceful_deletion_waits_for_the_pods_processes(api: client.CoreV1Api) -> None:
    """A pod on a node is only marked at first; it goes once its processes are stopped
    (SIGTERM, here obeyed at once by sleep)."""
    api.create_namespaced_pod(
        TEST_NAMESPACE, pod("graceful", ["sleep", "300"]), _preload_content=False
    )
    wait_until(lambda: pod_processes({"graceful"}), TIMEOUT, what="the pod to run")
    deleted = raw(api.delete_namespaced_pod("graceful", TEST_NAMESPACE, _preload_content=False))
    assert deleted["metadata"]["deletionTimestamp"]
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 30
    wait_until(lambda: "graceful" not in names(api), TIMEOUT, what="the pod to go")
    assert not pod_processes({"graceful"})
    with pytest.raises(ApiException) as info:
        api.read_namespaced_pod("graceful", TEST_NAMESPACE)
    assert info.value.status == 404
    assert json.loads(info.value.body)["message"] == 'pods "graceful" not found'


def test_sigterm_ignored_means_sigkill_after_the_grace_period(api: client.CoreV1Api) -> None:
    command = ["/bin/bash", "-c", "trap '' TERM; sleep 300 & wait; wait"]
    body = pod("stubborn", command)
    body["spec"]["terminationGracePeriodSeconds"] = 1
    api.create_namespaced_pod(TEST_NAMESPACE, body, _preload_content=False)
    wait_until(lambda: len(pod_processes({"stubborn"})) == 2, TIMEOUT, what="the pod to run")
    api.delete_namespaced_pod("stubborn", TEST_NAMESPACE, _preload_content=False)
    wait_until(lambda: "stubborn" not in names(api), TIMEOUT, what="the pod to go")
    assert not pod_processes({"stubborn"})  # the whole group, child included


def test_namespaces_and_version_answer_like_kube_apiserver(api: client.CoreV1Api) -> None:
    listed = {item.metadata.name for item in api.list_namespace().items}  # type: ignore[union-attr]
    assert {"default", TEST_NAMESPACE} <= listed
    info = client.VersionApi(api.api_client).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")
