"""A pod runner for tests: plays the kubelet (and the scheduler) of a one-node cluster.

Every ``--interval`` seconds it lists all pods from the API server and, like a kubelet:

* schedules a new ``Pending`` pod onto its node when the pod's ``nodeSelector`` matches
  the node's labels and its GPU limit fits (``--gpus``), else marks it
  ``Unschedulable`` with the scheduler's wording; binds it (``spec.nodeName``) and adds
  a finalizer, so deleting it waits for its processes to stop;
* runs the pod's first container (``command`` + ``args``) as a local process in a new
  session, with the container's ``env`` (values and ``fieldRef``s), ``HOSTNAME`` set to
  the pod's name, a per-pod working directory, and stdout and stderr into the log the
  API server serves; an image under the reserved ``.invalid`` domain cannot be pulled
  (``ErrImagePull``, then ``ImagePullBackOff``); other containers are shown running;
* writes the pod's status back: ``Running`` with complete container statuses, then
  ``Succeeded`` or ``Failed`` with the exit code (``128 + n`` after signal ``n``);
* on deletion sends SIGTERM to the pod's whole process group, SIGKILL after the
  grace period (and to anything of the group left once its leader has exited), then
  removes its finalizer so the API server lets the pod go;
* on its own SIGTERM or SIGINT stops every pod's processes the same way and exits.

Run it as ``python -m plait_provider_kubernetes.testing.podrunner --server URL
--log-dir DIR``; it prints ``READY`` after its first successful list.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

FINALIZER = "plait.test/pod-runner"
#: Variables a container gets from the runner's environment (its "image" defaults).
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_REQUEST_TIMEOUT = 10.0


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunningPod:
    """A pod this runner has taken, and its container's process once started."""

    namespace: str
    name: str
    uid: str
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started: str = ""
    finished: bool = False
    kill_at: float | None = None  # set once deletion has begun
    pulls: int = 0  # image pull attempts (for unpullable images)


@dataclass
class Node:
    """The one node pods run on."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    gpus: int = 0


class PodRunner:
    """The kubelet loop; see the module docstring.

    :param server: the API server's URL (``http://127.0.0.1:PORT``).
    :param log_dir: where ``NAMESPACE/NAME.log`` and per-pod working directories go.
    """

    def __init__(self, server: str, log_dir: str, node: Node) -> None:
        self.server = server.rstrip("/")
        self.log_dir = log_dir
        self.node = node
        self.pods: dict[str, RunningPod] = {}  # by uid
        self.refused: set[str] = set()  # uids found unschedulable
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- API -----------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/merge-patch+json")
        with self._opener.open(request, timeout=_REQUEST_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")

    def _patch(self, pod: RunningPod, body: Mapping[str, Any], status: bool = False) -> None:
        path = f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}" + ("/status" if status else "")
        try:
            self._request("PATCH", path, body)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # deleted meanwhile: nothing to report to
                raise

    # -- one round -------------------------------------------------------------

    def step(self) -> None:
        """List every pod once and act on each."""
        items = self._request("GET", "/api/v1/pods").get("items") or []
        listed = {item["metadata"]["uid"]: item for item in items}
        for uid, item in listed.items():
            pod = self.pods.get(uid)
            if item["metadata"].get("deletionTimestamp"):
                if pod is not None:
                    self._stop(pod, item)
                continue
            if pod is None and uid not in self.refused and _is_new(item):
                self._admit(item)
            elif pod is not None and pod.proc is None and not pod.finished:
                self._start(pod, item)
        for uid, pod in list(self.pods.items()):
            if uid not in listed:  # deleted with gracePeriodSeconds=0: stop at once
                self._kill(pod)
                del self.pods[uid]
            elif pod.proc is not None and not pod.finished and pod.proc.poll() is not None:
                self._finish(pod, listed[uid])

    def _admit(self, item: Mapping[str, Any]) -> None:
        """Schedule the pod onto this node, or say why it cannot be."""
        meta, spec = item["metadata"], item.get("spec") or {}
        pod = RunningPod(meta.get("namespace") or "default", meta["name"], meta["uid"])
        reason = self._unschedulable(spec)
        if reason:
            self.refused.add(pod.uid)
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": f"0/1 nodes are available: {reason}. preemption: 0/1 nodes are "
                "available: 1 Preemption is not helpful for scheduling.",
                "lastTransitionTime": now(),
            }
            self._patch(pod, {"status": {"conditions": [condition]}}, status=True)
            return
        binding = {"metadata": {"finalizers": [FINALIZER]}, "spec": {"nodeName": self.node.name}}
        self._patch(pod, binding)
        self.pods[pod.uid] = pod
        self._start(pod, item)

    def _unschedulable(self, spec: Mapping[str, Any]) -> str:
        wanted = spec.get("nodeSelector") or {}
        if any(self.node.labels.get(key) != value for key, value in wanted.items()):
            return "1 node(s) didn't match Pod's node affinity/selector"
        gpus = 0
        for container in spec.get("containers") or []:
            for name, value in ((container.get("resources") or {}).get("limits") or {}).items():
                if name.endswith("/gpu"):
                    gpus += int(value)
        if gpus > self.node.gpus:
            return "1 Insufficient nvidia.com/gpu"
        return ""

    def _start(self, pod: RunningPod, item: Mapping[str, Any]) -> None:
        """Start the first container's process (or fail to pull its image)."""
        spec = item.get("spec") or {}
        containers = spec.get("containers") or []
        first = containers[0]
        if ".invalid/" in first.get("image", "") or first.get("image", "").endswith(".invalid"):
            if pod.pulls >= 2:
                return  # backing off, as the kubelet does
            pod.pulls += 1
            reason = "ErrImagePull" if pod.pulls == 1 else "ImagePullBackOff"
            message = (
                f'failed to pull and unpack image "{first["image"]}": failed to resolve '
                "reference: no such host"
                if pod.pulls == 1
                else f'Back-off pulling image "{first["image"]}"'
            )
            statuses = [
                _container_status(c, {"waiting": {"reason": reason, "message": message}})
                for c in containers
            ]
            self._patch(pod, {"status": {"containerStatuses": statuses}}, status=True)
            return
        directory = os.path.join(self.log_dir, pod.namespace, f"{pod.name}.d")
        os.makedirs(directory, exist_ok=True)
        pod.log = open(os.path.join(self.log_dir, pod.namespace, f"{pod.name}.log"), "wb")  # noqa: SIM115
        pod.proc = subprocess.Popen(
            [*(first.get("command") or []), *(first.get("args") or [])],
            env=self._env(item, first),
            cwd=first.get("workingDir") or directory,
            stdin=subprocess.DEVNULL,
            stdout=pod.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pod.started = now()
        running = {"running": {"startedAt": pod.started}}
        statuses = [_container_status(c, running, ready=True) for c in containers]
        conditions = [
            {"type": kind, "status": "True", "lastTransitionTime": pod.started}
            for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        self._patch(
            pod,
            {
                "status": {
                    "phase": "Running",
                    "hostIP": "127.0.0.1",
                    "podIP": "127.0.0.1",
                    "startTime": pod.started,
                    "conditions": conditions,
                    "containerStatuses": statuses,
                }
            },
            status=True,
        )

    def _env(self, item: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, str]:
        env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        env["HOSTNAME"] = item["metadata"]["name"]
        fields = {
            "metadata.name": item["metadata"]["name"],
            "metadata.namespace": item["metadata"].get("namespace", ""),
            "metadata.uid": item["metadata"]["uid"],
            "spec.nodeName": self.node.name,
            "spec.serviceAccountName": (item.get("spec") or {}).get("serviceAccountName", ""),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        for var in container.get("env") or []:
            ref = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            env[var["name"]] = fields.get(ref, "") if ref else str(var.get("value", ""))
        return env

    def _finish(self, pod: RunningPod, item: Mapping[str, Any]) -> None:
        """The container exited: report Succeeded or Failed with its exit code."""
        assert pod.proc is not None
        code = pod.proc.returncode
        code = 128 - code if code < 0 else code
        pod.finished = True
        self._close_log(pod)
        self._kill_group(pod)  # what the container left behind ends with it
        containers = (item.get("spec") or {}).get("containers") or []
        terminated = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": pod.started,
                "finishedAt": now(),
            }
        }
        statuses = [_container_status(c, terminated) for c in containers]
        phase = "Succeeded" if code == 0 else "Failed"
        self._patch(pod, {"status": {"phase": phase, "containerStatuses": statuses}}, status=True)

    # -- stopping ----------------------------------------------------------------

    def _stop(self, pod: RunningPod, item: Mapping[str, Any]) -> None:
        """Graceful deletion: SIGTERM, SIGKILL after the grace period, then let it go."""
        alive = pod.proc is not None and pod.proc.poll() is None
        if alive and pod.kill_at is None:
            grace = item["metadata"].get("deletionGracePeriodSeconds", 30)
            pod.kill_at = time.monotonic() + float(grace)
            self._signal_group(pod, signal.SIGTERM)
            return
        if alive and pod.kill_at is not None and time.monotonic() < pod.kill_at:
            return
        self._kill(pod)
        self._patch(pod, {"metadata": {"finalizers": None}})
        del self.pods[pod.uid]

    def _kill(self, pod: RunningPod) -> None:
        """SIGKILL the pod's process group and reap its leader."""
        self._kill_group(pod)
        if pod.proc is not None:
            pod.proc.wait()
        self._close_log(pod)

    def _kill_group(self, pod: RunningPod) -> None:
        self._signal_group(pod, signal.SIGKILL)

    @staticmethod
    def _signal_group(pod: RunningPod, signum: int) -> None:
        if pod.proc is None:
            return
        try:
            os.killpg(pod.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _close_log(pod: RunningPod) -> None:
        if pod.log is not None:
            pod.log.close()
            pod.log = None

    def stop_all(self, grace: float = 2.0) -> None:
        """SIGTERM every pod's processes, SIGKILL what is left after ``grace`` seconds."""
        for pod in self.pods.values():
            self._signal_group(pod, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for pod in self.pods.values():
            if pod.proc is not None:
                try:
                    pod.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            self._kill(pod)
        self.pods.clear()


def _is_new(item: Mapping[str, Any]) -> bool:
    status = item.get("status") or {}
    return status.get("phase", "Pending") == "Pending" and not (item.get("spec") or {}).get(
        "nodeName"
    )


def _container_status(
    container: Mapping[str, Any], state: Mapping[str, Any], ready: bool = False
) -> dict[str, Any]:
    """A complete container status: the client's model requires every one of these."""
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": "running" in state,
        "state": dict(state),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the API server's URL")
    parser.add_argument("--log-dir", required=True, help="where pod logs go")
    parser.add_argument("--node", default="plait-node-0", help="the node's name")
    parser.add_argument("--node-label", action="append", default=[], help="KEY=VALUE")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the node has")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between rounds")
    args = parser.parse_args(argv)
    labels = dict(label.split("=", 1) for label in args.node_label)
    labels.setdefault("kubernetes.io/hostname", args.node)
    runner = PodRunner(args.server, args.log_dir, Node(args.node, labels, args.gpus))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ready = False
    try:
        while not stop.is_set():
            try:
                runner.step()
            except (OSError, ValueError) as exc:  # the API server is starting or stopping
                print(f"pod runner: {exc}", flush=True)
            else:
                if not ready:
                    ready = True
                    print("READY", flush=True)
            stop.wait(args.interval)
    finally:
        runner.stop_all()


if __name__ == "__main__":
    main()
