"""A pod, as the API lists it, as a plait job state with the reason a user needs.

A pod's ``phase`` alone hides most of what goes wrong: a pod whose image cannot be
pulled or that no node can take stays ``Pending`` forever, and a worker container
that ended while a sidecar runs leaves the pod ``Running``. So the worker
container's own state is read first, then the phase, then the conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plait.providers.base import JobState
from plait_provider_kubernetes.template import WORKER_CONTAINER

#: Waiting reasons that will not clear up by themselves: the block has failed.
WAITING_FAILURES = frozenset(
    {
        "ImagePullBackOff",  # the kubelet already retried the pull
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",  # a missing Secret or ConfigMap
        "CreateContainerError",
        "CrashLoopBackOff",
        "RunContainerError",
    }
)

#: Pod phases and the state each means when no container says more.
PHASES: dict[str, JobState] = {
    "Pending": JobState.PENDING,
    "Running": JobState.RUNNING,
    "Succeeded": JobState.COMPLETED,
    "Failed": JobState.FAILED,
    "Unknown": JobState.UNKNOWN,  # the node stopped reporting
}


@dataclass(frozen=True)
class PodState:
    """What one listed pod says about its block.

    :param exit_code: the worker container's exit code, once it has ended.
    :param deleting: the pod is being deleted (``deletionTimestamp`` is set).
    """

    state: JobState
    message: str | None = None
    exit_code: int | None = None
    deleting: bool = False


def pod_state(pod: Mapping[str, Any]) -> PodState:
    """The state of the block running in ``pod`` (a pod as the API returns it)."""
    status = pod.get("status") or {}
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    phase = status.get("phase") or "Pending"
    worker = _worker_status(status)
    state_of = (worker or {}).get("state") or {}
    terminated = state_of.get("terminated")
    if terminated:
        code = terminated.get("exitCode")
        code = code if isinstance(code, int) else None
        reason = terminated.get("reason") or ""
        text = _join(reason if reason not in ("Completed", "Error") else "", terminated)
        if code == 0 and reason != "OOMKilled":
            return PodState(JobState.COMPLETED, text or None, 0, deleting)
        message = _join(f"exit code {code}" if code is not None else "", {"message": text})
        return PodState(JobState.FAILED, message or reason or "failed", code, deleting)
    if phase == "Failed":  # evicted, past activeDeadlineSeconds, or lost before starting
        reason = status.get("reason") or ""
        state = JobState.TIMEOUT if reason == "DeadlineExceeded" else JobState.FAILED
        return PodState(state, _join(reason, status) or "Failed", None, deleting)
    waiting = state_of.get("waiting")
    if waiting and waiting.get("reason") in WAITING_FAILURES:
        return PodState(JobState.FAILED, _join(waiting["reason"], waiting), None, deleting)
    state = PHASES.get(phase, JobState.UNKNOWN)
    if state is JobState.PENDING:
        return PodState(state, _pending_reason(status, waiting), None, deleting)
    if state is JobState.UNKNOWN:
        text = _join(status.get("reason") or "", status)
        return PodState(state, f"pod phase {phase}" + (f": {text}" if text else ""), None, deleting)
    if state is JobState.COMPLETED and worker is None:
        return PodState(state, None, 0, deleting)
    return PodState(state, None, None, deleting)


def _worker_status(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The worker container's status (the only one if a template renamed nothing)."""
    statuses = status.get("containerStatuses") or []
    for item in statuses:
        if item.get("name") == WORKER_CONTAINER:
            return dict(item)
    return dict(statuses[0]) if len(statuses) == 1 else None


def _pending_reason(status: Mapping[str, Any], waiting: Mapping[str, Any] | None) -> str | None:
    """Why a pending pod is not running yet: the scheduler's or the kubelet's words."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return _join(condition.get("reason") or "not scheduled", condition)
    if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
        return _join(waiting["reason"], waiting)
    return None


def _join(reason: str, source: Mapping[str, Any]) -> str:
    """``reason: message`` from a status block, leaving out whatever is empty."""
    message = (source.get("message") or "").strip()
    if reason and message:
        return f"{reason}: {message}"
    return reason or message
