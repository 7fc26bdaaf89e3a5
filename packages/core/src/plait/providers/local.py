"""``local``: blocks are process groups on this machine."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading

from plait.errors import SubmitException
from plait.launchers.base import Launcher
from plait.launchers.simple import SingleNodeLauncher
from plait.providers.base import ExecutionProvider, JobState, JobStatus


class LocalProvider(ExecutionProvider):
    """Runs each block as a bash script in its own process group on this machine.

    :param launcher: wraps the worker command (default ``SingleNodeLauncher``).
    :param init_blocks: blocks started at the beginning.
    :param min_blocks: blocks kept even when idle.
    :param max_blocks: most blocks at once.
    :param nodes_per_block: always 1 here (it is one machine).
    :param parallelism: ratio of blocks to outstanding tasks the strategy aims for.
    :param worker_init: shell lines run before the command (``module load``, venv).
    :param cmd_timeout: seconds to wait for a cancelled block to exit before it is killed.
    """

    plugin_name = "local"

    def __init__(
        self,
        launcher: Launcher | None = None,
        init_blocks: int = 1,
        min_blocks: int = 0,
        max_blocks: int = 1,
        nodes_per_block: int = 1,
        parallelism: float = 1.0,
        worker_init: str = "",
        cmd_timeout: float = 10.0,
    ) -> None:
        self.launcher = launcher if launcher is not None else SingleNodeLauncher()
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.nodes_per_block = nodes_per_block
        self.parallelism = parallelism
        self.worker_init = worker_init
        self.cmd_timeout = cmd_timeout
        self.label = "local"
        self.status_polling_interval = 1.0
        # the one node is this machine: executors size their workers from it
        self.cores_per_node = os.cpu_count() or 1
        self.mem_per_node = _memory_gb()
        self._jobs: dict[str, subprocess.Popen[bytes]] = {}
        self._paths: dict[str, tuple[str, str]] = {}
        self._cancelled: set[str] = set()
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def submit(self, command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        """Write the block's script to ``script_dir`` and start it; the id is a local counter."""
        script_dir = self.script_dir or os.path.join(os.getcwd(), "submit_scripts")
        os.makedirs(script_dir, exist_ok=True)
        job_id = f"{os.getpid()}.{next(self._ids)}"
        base = os.path.join(script_dir, f"{job_name}.{job_id}")
        launch = (
            self.launcher(command, tasks_per_node, self.nodes_per_block)
            if self.launcher
            else command
        )
        with open(f"{base}.sh", "w") as f:
            f.write(f"#!/bin/bash\n{self.worker_init}\n{launch}\n")
        out, err = f"{base}.stdout", f"{base}.stderr"
        try:
            with open(out, "wb") as stdout, open(err, "wb") as stderr:
                proc = subprocess.Popen(
                    ["/bin/bash", f"{base}.sh"],
                    stdout=stdout,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        except OSError as exc:
            raise SubmitException(job_name, f"cannot start /bin/bash: {exc.strerror}") from exc
        with self._lock:
            self._jobs[job_id] = proc
            self._paths[job_id] = (out, err)
        return job_id

    def status(self, job_ids: list[str]) -> list[JobStatus]:
        """Running, completed (exit 0), failed (with exit code and stderr tail) or cancelled."""
        result = []
        for job_id in job_ids:
            proc = self._jobs.get(job_id)
            if proc is None:
                result.append(JobStatus(JobState.MISSING, f"no local job {job_id}"))
                continue
            out, err = self._paths[job_id]
            code = proc.poll()
            if job_id in self._cancelled:
                state, message = JobState.CANCELLED, "cancelled"
            elif code is None:
                state, message = JobState.RUNNING, None
            elif code == 0:
                state, message = JobState.COMPLETED, None
            else:
                state, message = JobState.FAILED, f"exited with {code}: {_tail(err)}"
            result.append(JobStatus(state, message, code, out, err))
        return result

    def cancel(self, job_ids: list[str]) -> list[bool]:
        """Terminate each block's process group; kill it if still there after ``cmd_timeout``."""
        done = []
        for job_id in job_ids:
            proc = self._jobs.get(job_id)
            if proc is None:
                done.append(False)
                continue
            if proc.poll() is None:  # a finished block keeps its final state
                self._cancelled.add(job_id)
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.cmd_timeout)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # also anything the block left in its group
            proc.wait()
            done.append(True)
        return done


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _memory_gb() -> float | None:
    """This machine's memory in GB, from /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _tail(path: str, limit: int = 500) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""
