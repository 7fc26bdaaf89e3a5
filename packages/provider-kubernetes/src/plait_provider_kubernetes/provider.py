"""``kubernetes``: each block is one pod whose worker container runs the block's command.

Pods are created through the official client with a label carrying this provider's
run id; ``status`` is one ``list`` call with that label selector for all the run's
pods, reused for ``status_polling_interval`` seconds. A pod that ends is deleted
once its state is recorded (a failed one after its last log lines are read into
the status message), cancelling a block deletes its pod, and at interpreter exit
every pod of the run is deleted and the provider waits, bounded, until the API no
longer lists them.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import math
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plait.errors import ConfigError, SubmitException
from plait.providers.base import ExecutionProvider, JobState, JobStatus
from plait_provider_kubernetes.api import CONFIG, KubernetesAPIError, PodAPI, load_api
from plait_provider_kubernetes.manifest import (
    PodShape,
    build_manifest,
    pod_name,
    quantity,
    quantity_value,
)
from plait_provider_kubernetes.states import pod_state
from plait_provider_kubernetes.template import PROVIDER_LABEL, check_template, merge_template

logger = logging.getLogger(__name__)

#: Lines of a failed pod's log quoted in its status message.
LOG_LINES = 20
#: At most this much of a failed pod's log is read.
LOG_BYTES = 64 * 1024
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: What to check when the API refuses a pod, by HTTP status.
_HINTS = {
    401: "check the credentials of the kubeconfig context",
    403: "the account needs RBAC permission to create, list and delete pods (and get "
    "pods/log) in namespace {namespace}",
    404: "check namespace={namespace!r}",
    409: "a pod of this name already exists",
    422: "check pod_template and the provider's parameters",
}


@dataclass
class _Pod:
    """One block's pod as this provider knows it."""

    name: str
    status: JobStatus
    gone: bool = False  # deleted by this provider, or no longer listed


class KubernetesProvider(ExecutionProvider):
    """Runs each block as a pod. Parsl's parameters, plus ``pod_template`` for anything
    else in the pod.

    :param image: the worker container's image; it must have the same Python and
        plait (with the executor's package) as the submitting side.
    :param namespace: where the pods go.
    :param nodes_per_block: 1 (a block is one pod; use ``max_blocks`` for more pods).
    :param init_blocks: blocks started at the beginning.
    :param min_blocks: blocks kept even when idle.
    :param max_blocks: most blocks (pods) at once.
    :param parallelism: ratio of blocks to outstanding tasks the strategy aims for.
    :param init_cpu: CPU request of the worker container (a number or a quantity such
        as ``"500m"``).
    :param max_cpu: CPU limit; also the cores the executor sizes its workers for.
    :param init_mem: memory request (``"250Mi"``).
    :param max_mem: memory limit (``"500Mi"``).
    :param worker_init: shell lines run in the container before the command, under
        ``set -e``: a failing line fails the pod, and its status quotes the pod's log.
    :param pod_name: prefix of pod names (default: the executor's job name); a
        unique suffix is added.
    :param user_id: ``runAsUser`` of the worker container.
    :param group_id: ``runAsGroup`` of the worker container.
    :param run_as_non_root: ``runAsNonRoot`` of the worker container.
    :param secret: name of an image pull secret.
    :param persistent_volumes: ``(claim name, mount path)`` pairs, each claim mounted
        into the worker container.
    :param service_account_name: the pods' service account.
    :param annotations: annotations of every pod.
    :param labels: extra labels of every pod (the run label is always added).
    :param pod_template: any part of a pod manifest (a dict), deep-merged into the
        provider's: dicts key by key, lists of named items (``env``, ``volumes``,
        ``volumeMounts``, ``containers``) by name, other lists appended. The container
        named ``plait-worker`` (or a template's only, unnamed, container) is the one
        running the block; others are sidecars. It may not set the pod's name or
        namespace, the run label, ``restartPolicy`` (always ``Never``) or the worker's
        ``command``/``args``. Checked against the client's pod model at construction.
        Never modified.
    :param gpus_per_pod: GPUs asked for (as the limit of ``gpu_resource``).
    :param gpu_resource: the extended resource name GPUs go by.
    :param kubeconfig: kubeconfig file (default: in-cluster service account, else
        ``KUBECONFIG``, else ``~/.kube/config``).
    :param context: kubeconfig context (default: the file's current context).
    :param status_polling_interval: seconds for which one list of the run's pods is reused.
    :param api_timeout: seconds one API request may take.
    :param api_retries: retries of a request after a connection error or a 429/5xx answer.
    :param max_failed_polls: status polls that may fail in a row (each one warned
        about) before the pods are reported UNKNOWN with the API's error.
    :param cleanup_timeout: seconds to wait at exit for the run's pods to disappear.
    :param label: the provider's label in logs.
    """

    plugin_name = "kubernetes"

    def __init__(
        self,
        image: str,
        namespace: str = "default",
        nodes_per_block: int = 1,
        init_blocks: int = 1,
        min_blocks: int = 0,
        max_blocks: int = 1,
        parallelism: float = 1.0,
        init_cpu: float | str = 1,
        max_cpu: float | str = 2,
        init_mem: str = "250Mi",
        max_mem: str = "500Mi",
        worker_init: str = "",
        pod_name: str | None = None,
        user_id: int | None = None,
        group_id: int | None = None,
        run_as_non_root: bool = False,
        secret: str | None = None,
        persistent_volumes: Sequence[tuple[str, str]] = (),
        service_account_name: str | None = None,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        pod_template: Mapping[str, Any] | None = None,
        gpus_per_pod: int = 0,
        gpu_resource: str = "nvidia.com/gpu",
        kubeconfig: str | None = None,
        context: str | None = None,
        status_polling_interval: float = 5.0,
        api_timeout: float = 10.0,
        api_retries: int = 3,
        max_failed_polls: int = 3,
        cleanup_timeout: float = 30.0,
        label: str = "kubernetes",
    ) -> None:
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            raise ConfigError("image", image, "a container image reference, e.g. 'python:3.11'")
        if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
            raise ConfigError("namespace", namespace, "a Kubernetes namespace name")
        if nodes_per_block != 1:
            raise ConfigError(
                "nodes_per_block", nodes_per_block, "1", "a block is one pod; raise max_blocks"
            )
        _check_int("init_blocks", init_blocks, 0)
        _check_int("min_blocks", min_blocks, 0)
        _check_int("max_blocks", max_blocks, 0)
        if min_blocks > max_blocks:
            raise ConfigError("min_blocks", min_blocks, f"at most max_blocks ({max_blocks})")
        if isinstance(parallelism, bool) or not isinstance(parallelism, int | float):
            raise ConfigError("parallelism", parallelism, "a number from 0 to 1")
        if not 0 <= parallelism <= 1:
            raise ConfigError("parallelism", parallelism, "a number from 0 to 1")
        cpu = _quantities("init_cpu", init_cpu, "max_cpu", max_cpu, "a number of cores or '500m'")
        mem = _quantities("init_mem", init_mem, "max_mem", max_mem, "a quantity such as '250Mi'")
        if not isinstance(worker_init, str):
            raise ConfigError("worker_init", worker_init, "shell lines (a string)")
        if pod_name is not None and (not isinstance(pod_name, str) or not pod_name.strip()):
            raise ConfigError("pod_name", pod_name, "a pod name prefix, or None")
        for field, ident in (("user_id", user_id), ("group_id", group_id)):
            if ident is not None:
                _check_int(field, ident, 0)
        if not isinstance(run_as_non_root, bool):
            raise ConfigError("run_as_non_root", run_as_non_root, "True or False")
        names: tuple[tuple[str, object], ...] = (
            ("secret", secret),
            ("service_account_name", service_account_name),
            ("context", context),
            ("kubeconfig", kubeconfig),
        )
        for field, name in names:
            if name is not None and (not isinstance(name, str) or not name.strip()):
                raise ConfigError(field, name, "a name, or None")
        volumes = _volumes(persistent_volumes)
        _check_int("gpus_per_pod", gpus_per_pod, 0)
        if not isinstance(gpu_resource, str) or "/" not in gpu_resource:
            raise ConfigError("gpu_resource", gpu_resource, "an extended resource name")
        for field, seconds in (
            ("status_polling_interval", status_polling_interval),
            ("api_timeout", api_timeout),
        ):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ConfigError(field, seconds, "a number of seconds above 0")
        if isinstance(cleanup_timeout, bool) or not isinstance(cleanup_timeout, int | float):
            raise ConfigError("cleanup_timeout", cleanup_timeout, "a number of seconds")
        _check_int("api_retries", api_retries, 0)
        _check_int("max_failed_polls", max_failed_polls, 1)
        self.image = image
        self.namespace = namespace
        self.nodes_per_block = nodes_per_block
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.parallelism = parallelism
        self.init_cpu = init_cpu
        self.max_cpu = max_cpu
        self.init_mem = init_mem
        self.max_mem = max_mem
        self.worker_init = worker_init
        self.pod_name = pod_name
        self.user_id = user_id
        self.group_id = group_id
        self.run_as_non_root = run_as_non_root
        self.secret = secret
        self.persistent_volumes = persistent_volumes
        self.service_account_name = service_account_name
        self.annotations = annotations
        self.labels = labels
        self.pod_template = pod_template
        self.gpus_per_pod = gpus_per_pod
        self.gpu_resource = gpu_resource
        self.kubeconfig = kubeconfig
        self.context = context
        self.status_polling_interval = status_polling_interval
        self.api_timeout = api_timeout
        self.api_retries = api_retries
        self.max_failed_polls = max_failed_polls
        self.cleanup_timeout = cleanup_timeout
        self.label = label
        # what the executor sizes its workers by: the container's limits
        self.cores_per_node = max(1, int(quantity_value(cpu[1])))
        self.mem_per_node = quantity_value(mem[1]) / 1e9
        self._provider_id = uuid.uuid4().hex[:16]
        self._shape = PodShape(
            image=image,
            run_id=self._provider_id,  # until the executor says which run (run_id setter)
            provider_id=self._provider_id,
            init_cpu=cpu[0],
            max_cpu=cpu[1],
            init_mem=mem[0],
            max_mem=mem[1],
            worker_init=worker_init,
            gpus_per_pod=gpus_per_pod,
            gpu_resource=gpu_resource,
            user_id=user_id,
            group_id=group_id,
            run_as_non_root=run_as_non_root,
            secret=secret,
            persistent_volumes=volumes,
            service_account_name=service_account_name,
            annotations=_strings("annotations", annotations),
            labels=_strings("labels", labels),
        )
        self._template = check_template(pod_template) if pod_template is not None else None
        if self._template:
            _validate_with_client(self.manifest("plait-check-0", "true"))
        kubeconfig_path = os.path.expanduser(kubeconfig) if kubeconfig else None
        self._api = PodAPI(
            namespace, lambda: load_api(kubeconfig_path, context), api_timeout, api_retries
        )
        self._pods: dict[str, _Pod] = {}
        self._lock = threading.RLock()
        self._last_poll = -math.inf
        self._failed_polls = 0
        self._announced = False
        self._pid = os.getpid()
        _LIVE.add(self)

    @property
    def run_id(self) -> str:
        """The value of the ``plait-run`` label on this provider's pods: the workflow's run
        id once the executor sets it (before its first block), else the provider's id."""
        return self._shape.run_id

    @run_id.setter
    def run_id(self, value: str | None) -> None:
        if value:
            self._shape = dataclasses.replace(self._shape, run_id=value)

    @property
    def selector(self) -> str:
        """The label selector of this provider's pods (``kubectl get pods -l ...``)."""
        return f"{PROVIDER_LABEL}={self._provider_id}"

    def manifest(self, name: str, command: str, tasks_per_node: int = 1) -> dict[str, Any]:
        """The pod manifest for one block: the provider's, with ``pod_template`` merged."""
        manifest = build_manifest(self._shape, name, self.namespace, command, tasks_per_node)
        if self._template:
            manifest = merge_template(manifest, self._template)
        return manifest

    # -- submit -----------------------------------------------------------

    def submit(self, command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        """Create the block's pod; its name is the job id.

        :raises plait.errors.SubmitException: the API refused the pod (quoting its
            message) or could not be reached.
        """
        if isinstance(tasks_per_node, bool) or not isinstance(tasks_per_node, int):
            raise ConfigError("tasks_per_node", tasks_per_node, "an integer >= 1")
        if tasks_per_node < 1:
            raise ConfigError("tasks_per_node", tasks_per_node, "an integer >= 1")
        name = pod_name(self.pod_name or job_name, uuid.uuid4().hex[:8])
        manifest = self.manifest(name, command, tasks_per_node)
        self._keep(f"{name}.json", json.dumps(manifest, indent=2))
        try:
            self._api.create(manifest)
        except KubernetesAPIError as exc:
            raise SubmitException(name, _explain(exc, self.namespace)) from exc
        with self._lock:
            self._pods[name] = _Pod(name, JobStatus(JobState.PENDING))
        if not self._announced:
            self._announced = True
            logger.info(
                "%s: pods of this run carry label %s (kubectl get pods -n %s -l %s)",
                self.label,
                self.selector,
                self.namespace,
                self.selector,
            )
        return name

    # -- status -----------------------------------------------------------

    def status(self, job_ids: list[str]) -> list[JobStatus]:
        """One status per id, in order, from one list call for the whole run at most every
        ``status_polling_interval`` seconds. Ids this provider never issued are MISSING."""
        if not job_ids:
            return []
        with self._lock:
            if time.monotonic() - self._last_poll >= self.status_polling_interval:
                self._poll()
            result = []
            for job_id in job_ids:
                pod = self._pods.get(job_id)
                if pod is None:
                    text = f"{job_id!r} is not a pod of this provider ({self.selector})"
                    result.append(JobStatus(JobState.MISSING, text))
                else:
                    result.append(_copy(pod.status))
            return result

    def _poll(self) -> None:
        self._last_poll = time.monotonic()
        active = [pod for pod in self._pods.values() if not pod.status.terminal]
        if not active:
            return
        try:
            listed = {
                item.get("metadata", {}).get("name"): item for item in self._api.list(self.selector)
            }
        except KubernetesAPIError as exc:
            self._poll_failed(active, exc)
            return
        self._failed_polls = 0
        for pod in active:
            item = listed.get(pod.name)
            if item is None:
                pod.gone = True
                pod.status = JobStatus(
                    JobState.CANCELLED,
                    f"pod {pod.name} was deleted by another client (the API no longer lists it)",
                )
                continue
            self._update(pod, item)

    def _update(self, pod: _Pod, item: Mapping[str, Any]) -> None:
        state = pod_state(item)
        prefix = f"pod {pod.name}"
        if state.deleting and not state.state.terminal:
            pod.status = JobStatus(
                JobState.CANCELLED, f"{prefix} is being deleted by another client"
            )
            return
        message = f"{prefix}: {state.message}" if state.message else None
        if state.state is JobState.FAILED or state.state is JobState.TIMEOUT:
            tail, path = self._log_tail(pod.name)
            if tail:
                message = f"{message or prefix + ' failed'}; last lines of its log:\n{tail}"
            pod.status = JobStatus(state.state, message, state.exit_code, path, path)
        else:
            pod.status = JobStatus(state.state, message, state.exit_code)
        if pod.status.terminal:
            self._delete_finished(pod)

    def _log_tail(self, name: str) -> tuple[str, str | None]:
        """The end of a failed pod's log (kept in ``script_dir`` too), or '' if unreadable."""
        try:
            text = self._api.log_tail(name, LOG_LINES, LOG_BYTES)
        except KubernetesAPIError as exc:
            logger.warning("%s: %s", self.label, exc)
            return "", None
        return text.rstrip("\n"), self._keep(f"{name}.log", text)

    def _delete_finished(self, pod: _Pod) -> None:
        """A finished pod holds a node's quota and clutters ``kubectl get pods``: its state
        is recorded, so delete it (Parsl leaves it behind)."""
        try:
            self._api.delete(pod.name)
        except KubernetesAPIError as exc:
            logger.warning("%s: %s (it stays until the run ends)", self.label, exc)
            return
        pod.gone = True

    def _poll_failed(self, active: list[_Pod], error: KubernetesAPIError) -> None:
        self._failed_polls += 1
        logger.warning(
            "%s: status poll failed (%d of %d tolerated): %s",
            self.label,
            self._failed_polls,
            self.max_failed_polls,
            error,
        )
        if self._failed_polls >= self.max_failed_polls:
            for pod in active:
                pod.status = JobStatus(
                    JobState.UNKNOWN,
                    f"pod {pod.name}: listing pods failed {self._failed_polls} times in a row: "
                    f"{error}",
                )

    # -- cancel -----------------------------------------------------------

    def cancel(self, job_ids: list[str]) -> list[bool]:
        """Delete the pods (the kubelet stops them gracefully); True for each one now
        deleted or already finished, False for ids this provider never issued and pods
        the API refused to delete."""
        result = []
        with self._lock:
            for job_id in job_ids:
                pod = self._pods.get(job_id)
                if pod is None:
                    result.append(False)
                    continue
                if not pod.gone:
                    try:
                        self._api.delete(pod.name)
                    except KubernetesAPIError as exc:
                        logger.error("%s: %s", self.label, exc)
                        result.append(False)
                        continue
                    pod.gone = True
                if not pod.status.terminal:
                    pod.status = JobStatus(JobState.CANCELLED, f"pod {pod.name} deleted (cancel)")
                result.append(True)
        return result

    def delete_all(self, timeout: float | None = None) -> list[str]:
        """Delete every pod carrying this run's label, tracked or not, and wait until the
        API lists none (at most ``timeout`` seconds, default ``cleanup_timeout``).

        :returns: the pods still listed when the wait ended (empty when all are gone).
        """
        limit = self.cleanup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        names = [item["metadata"]["name"] for item in self._api.list(self.selector)]
        for name in names:
            self._api.delete(name)
        while names and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            names = [item["metadata"]["name"] for item in self._api.list(self.selector)]
        if names:
            logger.warning(
                "%s: %d pods still terminating after %g s: %s (kubectl get pods -n %s -l %s)",
                self.label,
                len(names),
                limit,
                ", ".join(names),
                self.namespace,
                self.selector,
            )
        return names

    def _keep(self, filename: str, text: str) -> str | None:
        """Write ``text`` to ``script_dir`` (the run directory's ``submit_scripts``)."""
        if self.script_dir is None:
            return None
        try:
            os.makedirs(self.script_dir, exist_ok=True)
            path = os.path.join(self.script_dir, filename)
            with open(path, "w") as f:
                f.write(text)
        except OSError as exc:
            logger.warning("%s: cannot write %s: %s", self.label, filename, exc)
            return None
        return path


def _explain(error: KubernetesAPIError, namespace: str) -> str:
    """The API's answer to a create, and what to check."""
    if error.status == 0 and error.reason != CONFIG:
        return f"{error}; is the cluster in the kubeconfig reachable from here?"
    if error.status == 0:
        return str(error)
    hint = _HINTS.get(error.status)
    text = f"the Kubernetes API answered {error.status} {error.reason}: {error.message}"
    return f"{text} ({hint.format(namespace=namespace)})" if hint else text


def _validate_with_client(manifest: dict[str, Any]) -> None:
    """Check a merged manifest against the client's pod model, which refuses unknown
    fields and wrong types before anything reaches a cluster.

    :raises plait.errors.ConfigError: naming the first offending field.
    """
    from kubernetes.client.models import V1Pod
    from pydantic import ValidationError

    try:
        V1Pod.model_validate(manifest)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise ConfigError(
            f"pod_template{path}",
            error.get("input"),
            "",
            f"{error['msg']} (in the merged pod; see the Kubernetes Pod reference)",
        ) from None


def _quantities(
    low_field: str, low: object, high_field: str, high: object, valid: str
) -> tuple[str, str]:
    """A request and a limit as quantity strings, the request not above the limit."""
    values = []
    for field, value in ((low_field, low), (high_field, high)):
        try:
            values.append(quantity(value))
        except ValueError:
            raise ConfigError(field, value, valid) from None
    if quantity_value(values[0]) > quantity_value(values[1]):
        raise ConfigError(
            low_field,
            low,
            f"at most {high_field} ({high!r})",
            "a request above its limit is refused",
        )
    return values[0], values[1]


def _volumes(value: object) -> tuple[tuple[str, str], ...]:
    valid = "a list of (claim name, mount path) pairs"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError("persistent_volumes", value, valid)
    pairs = []
    for item in value:
        if (
            not isinstance(item, Sequence)
            or isinstance(item, str)
            or len(item) != 2
            or not all(isinstance(part, str) and part for part in item)
        ):
            raise ConfigError("persistent_volumes", value, valid)
        pairs.append((item[0], item[1]))
    return tuple(pairs)


def _strings(field: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(field, value, "a dict of strings to strings")
    return dict(value)


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(field, value, f"an integer >= {minimum}")


def _copy(status: JobStatus) -> JobStatus:
    return JobStatus(
        status.state, status.message, status.exit_code, status.stdout_path, status.stderr_path
    )


#: every provider of this process, so the pods of each run are deleted at exit
_LIVE: weakref.WeakSet[KubernetesProvider] = weakref.WeakSet()


@atexit.register
def _delete_at_exit() -> None:
    for provider in list(_LIVE):
        if provider._pid != os.getpid() or not provider._pods:
            continue  # a forked child does not own its parent's pods; nothing submitted
        provider._api.retries = 0  # exiting: an unreachable API costs one attempt, not four
        try:
            provider.delete_all()
        except Exception:  # exiting anyway; never hide the real error
            logger.warning("deleting %s's pods at exit failed", provider.label, exc_info=True)
