"""Pod phases and container states as job states: one row per case users meet."""

from __future__ import annotations

from typing import Any

import pytest

from plait.providers.base import JobState
from plait_provider_kubernetes.states import PodState, pod_state
from plait_provider_kubernetes.template import WORKER_CONTAINER


def pod(
    phase: str = "Pending",
    state: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    name: str = WORKER_CONTAINER,
    **status: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"phase": phase, **status}
    if state is not None:
        body["containerStatuses"] = [
            {
                "name": name,
                "image": "i",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": state,
            }
        ]
    if conditions is not None:
        body["conditions"] = conditions
    metadata: dict[str, Any] = {"name": "p"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": metadata, "status": body}


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
}

# (case, pod, expected PodState)
TABLE: list[tuple[str, dict[str, Any], PodState]] = [
    ("new pod", pod(), PodState(JobState.PENDING)),
    ("no status yet", {"metadata": {"name": "p"}}, PodState(JobState.PENDING)),
    (
        "unschedulable, with the scheduler's message",
        pod(conditions=[UNSCHEDULABLE]),
        PodState(
            JobState.PENDING,
            "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        ),
    ),
    (
        "container creating says nothing more",
        pod(state={"waiting": {"reason": "ContainerCreating"}}),
        PodState(JobState.PENDING),
    ),
    (
        "first image pull error: the kubelet retries",
        pod(state={"waiting": {"reason": "ErrImagePull", "message": "not found"}}),
        PodState(JobState.PENDING, "ErrImagePull: not found"),
    ),
    (
        "image pull back-off: failed",
        pod(state={"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling "x"'}}),
        PodState(JobState.FAILED, 'ImagePullBackOff: Back-off pulling "x"'),
    ),
    (
        "invalid image name",
        pod(state={"waiting": {"reason": "InvalidImageName"}}),
        PodState(JobState.FAILED, "InvalidImageName"),
    ),
    (
        "missing secret or config map",
        pod(
            state={
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": 'secret "creds" not found',
                }
            }
        ),
        PodState(JobState.FAILED, 'CreateContainerConfigError: secret "creds" not found'),
    ),
    (
        "crash loop",
        pod("Running", state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}),
        PodState(JobState.FAILED, "CrashLoopBackOff: back-off"),
    ),
    ("running", pod("Running", state={"running": {}}), PodState(JobState.RUNNING)),
    (
        "succeeded",
        pod("Succeeded", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
        PodState(JobState.COMPLETED, None, 0),
    ),
    (
        "succeeded without container statuses",
        pod("Succeeded"),
        PodState(JobState.COMPLETED, None, 0),
    ),
    (
        "failed with an exit code (worker_init exited 1)",
        pod("Failed", state={"terminated": {"exitCode": 1, "reason": "Error"}}),
        PodState(JobState.FAILED, "exit code 1", 1),
    ),
    (
        "out of memory",
        pod("Failed", state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
        PodState(JobState.FAILED, "exit code 137: OOMKilled", 137),
    ),
    (
        "worker ended while a sidecar runs: the pod is still Running",
        pod("Running", state={"terminated": {"exitCode": 2, "reason": "Error"}}),
        PodState(JobState.FAILED, "exit code 2", 2),
    ),
    (
        "evicted",
        pod("Failed", reason="Evicted", message="The node was low on resource: memory."),
        PodState(JobState.FAILED, "Evicted: The node was low on resource: memory."),
    ),
    (
        "past activeDeadlineSeconds",
        pod("Failed", reason="DeadlineExceeded", message="Pod was active too long"),
        PodState(JobState.TIMEOUT, "DeadlineExceeded: Pod was active too long"),
    ),
    (
        "node lost",
        pod("Unknown", reason="NodeLost", message="node n1 is not responding"),
        PodState(JobState.UNKNOWN, "pod phase Unknown: NodeLost: node n1 is not responding"),
    ),
    ("unheard-of phase", pod("Sleeping"), PodState(JobState.UNKNOWN, "pod phase Sleeping")),
    (
        "being deleted",
        pod("Running", state={"running": {}}, deleting=True),
        PodState(JobState.RUNNING, deleting=True),
    ),
    (
        "a renamed single container still counts",
        pod("Running", state={"terminated": {"exitCode": 3}}, name="main"),
        PodState(JobState.FAILED, "exit code 3", 3),
    ),
]


@pytest.mark.parametrize(("case", "pod_dict", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_pod_state(case: str, pod_dict: dict[str, Any], expected: PodState) -> None:
    assert pod_state(pod_dict) == expected


def test_the_worker_container_decides_among_several() -> None:
    body = pod("Running", state={"running": {}})
    body["status"]["containerStatuses"].insert(
        0,
        {
            "name": "sidecar",
            "image": "s",
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 9}},
        },
    )
    assert pod_state(body) == PodState(JobState.RUNNING)
