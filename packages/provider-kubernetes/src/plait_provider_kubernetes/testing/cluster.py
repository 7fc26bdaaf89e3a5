"""A private stand-in Kubernetes cluster: the API server emulator and the pod runner,
each a child process, with a kubeconfig pointing at them in a temporary directory.

Both processes are started with ``exec`` (``subprocess.Popen``), report readiness on
stdout within a deadline, and are stopped by their own PIDs (SIGTERM, then SIGKILL)
and reaped; the pod runner stops every pod's processes before it exits. The user's
``~/.kube/config`` is never read or written.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

#: Namespaces the emulator has besides ``default``.
TEST_NAMESPACE = "plait-test"
#: A namespace where every pod request is refused with 403, as RBAC would.
FORBIDDEN_NAMESPACE = "plait-forbidden"
#: Labels of the pod runner's node (for ``nodeSelector`` tests).
NODE_LABELS = {"plait.test/pool": "emulated", "kubernetes.io/os": "linux"}
NODE_NAME = "plait-node-0"


class ClusterError(RuntimeError):
    """The stand-in cluster did not start."""


class KubeCluster:
    """The emulated API server and pod runner of one test session.

    :param gpus: GPUs the pod runner's node advertises.
    :param interval: seconds between the pod runner's rounds.
    """

    def __init__(self, gpus: int = 1, interval: float = 0.1, start_timeout: float = 30.0) -> None:
        self.gpus = gpus
        self.interval = interval
        self.start_timeout = start_timeout
        self.dir = ""
        self.port = 0
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> str:
        """The kubeconfig file for this cluster (context ``plait-test``)."""
        return os.path.join(self.dir, "kubeconfig")

    @property
    def log_dir(self) -> str:
        """Where pod logs and working directories are (``NAMESPACE/NAME.log``)."""
        return os.path.join(self.dir, "pods")

    def start(self) -> None:
        """Start the API server, then the pod runner; stops everything on failure."""
        self.dir = tempfile.mkdtemp(prefix="plait-k8s-")
        os.makedirs(self.log_dir)
        try:
            server = self._spawn(
                "apiserver",
                "plait_provider_kubernetes.testing.apiserver",
                "--log-dir",
                self.log_dir,
                "--namespace",
                TEST_NAMESPACE,
                "--forbid",
                FORBIDDEN_NAMESPACE,
            )
            self.port = int(self._await_line(server, "apiserver", "PORT ").split()[1])
            self._write_kubeconfig()
            labels = [arg for k, v in NODE_LABELS.items() for arg in ("--node-label", f"{k}={v}")]
            runner = self._spawn(
                "podrunner",
                "plait_provider_kubernetes.testing.podrunner",
                "--server",
                self.url,
                "--log-dir",
                self.log_dir,
                "--node",
                NODE_NAME,
                "--gpus",
                str(self.gpus),
                "--interval",
                str(self.interval),
                *labels,
            )
            self._await_line(runner, "podrunner", "READY")
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        stderr = open(os.path.join(self.dir, f"{name}.stderr"), "wb")  # noqa: SIM115
        self._logs.append(stderr)
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        # the pod runner's children must find this interpreter's scripts (plait-htex-manager)
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def _await_line(self, proc: subprocess.Popen[bytes], name: str, prefix: str) -> str:
        """The first stdout line of ``proc`` starting with ``prefix``, within the deadline."""
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                raise ClusterError(
                    f"the {name} did not start (exit status {proc.poll()}); "
                    f"see {self.dir}/{name}.stderr"
                )
            ready, _, _ = select.select([proc.stdout], [], [], remaining)
            if not ready:
                continue
            line = proc.stdout.readline().decode()
            if line.startswith(prefix):
                return line.strip()

    def _write_kubeconfig(self) -> None:
        with open(self.kubeconfig, "w") as f:
            f.write(
                "apiVersion: v1\n"
                "kind: Config\n"
                "clusters:\n"
                f"- name: plait-test\n  cluster:\n    server: {self.url}\n"
                "users:\n"
                "- name: plait-test\n  user: {}\n"
                "contexts:\n"
                "- name: plait-test\n  context:\n    cluster: plait-test\n    user: plait-test\n"
                f"    namespace: {TEST_NAMESPACE}\n"
                "current-context: plait-test\n"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the pod runner (it stops every pod), then the API server; remove the
        directory. Idempotent."""
        for name in ("podrunner", "apiserver"):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""

    def exited(self) -> list[str]:
        """The names of this cluster's processes that have exited (empty: all running)."""
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def client(self) -> CoreV1Api:
        """The official client, configured from this cluster's kubeconfig."""
        from kubernetes import client, config

        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=self.kubeconfig, persist_config=False
        )
        return client.CoreV1Api(api_client)


@contextlib.contextmanager
def no_proxy_for_loopback() -> Iterator[None]:
    """Add 127.0.0.1 and localhost to ``no_proxy``/``NO_PROXY`` (the client honours a
    proxy from the environment), restoring both afterwards."""
    saved = {key: os.environ.get(key) for key in ("no_proxy", "NO_PROXY")}
    existing = [v for v in saved.values() if v]
    value = ",".join([*existing, "127.0.0.1", "localhost"])
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def pod_processes(names: set[str]) -> list[int]:
    """PIDs of live processes started for the given pods (the pod runner sets their
    ``HOSTNAME`` to the pod's name); zombies waiting to be reaped are left out."""
    wanted = {f"HOSTNAME={name}".encode() for name in names}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = set(f.read().split(b"\0"))
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if environ & wanted and state not in ("Z", "X"):
            found.append(int(entry))
    return found
