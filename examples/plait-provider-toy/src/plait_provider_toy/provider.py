"""``toy``: each block is a background bash job whose exit status is kept in a file."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

from plait.providers.base import ExecutionProvider, JobState, JobStatus


class ToyProvider(ExecutionProvider):
    """Runs each block as ``bash script`` in its own session, like a one-node batch system.

    :param spool_dir: where job scripts, outputs and exit codes go.
    :param max_blocks: most blocks at once.
    """

    plugin_name = "toy"

    def __init__(self, spool_dir: str = "toy-spool", max_blocks: int = 1) -> None:
        self.spool_dir = spool_dir
        self.max_blocks = max_blocks
        self.label = "toy"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def _path(self, job_id: str, ext: str) -> str:
        return os.path.join(self.spool_dir, f"{job_id}.{ext}")

    def submit(self, command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        """Write the job script and start it; the job id is a fresh uuid."""
        os.makedirs(self.spool_dir, exist_ok=True)
        job_id = f"{job_name}-{uuid.uuid4().hex[:8]}"
        with open(self._path(job_id, "sh"), "w") as f:
            # A subshell, so a command that calls `exit` still leaves its status behind.
            f.write(f"(\n{command}\n)\necho $? > {self._path(job_id, 'exit')}\n")
        with open(self._path(job_id, "out"), "wb") as out:
            self._procs[job_id] = subprocess.Popen(
                ["/bin/bash", self._path(job_id, "sh")],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return job_id

    def status(self, job_ids: list[str]) -> list[JobStatus]:
        """Running while the script runs; then completed or failed by the command's status
        in the exit-code file, or cancelled if the job was killed."""
        result = []
        for job_id in job_ids:
            proc = self._procs.get(job_id)
            if proc is None:
                result.append(JobStatus(JobState.MISSING, f"unknown toy job {job_id}"))
                continue
            code = proc.poll()
            if code is None:
                result.append(JobStatus(JobState.RUNNING))
            elif code < 0:
                result.append(JobStatus(JobState.CANCELLED, f"killed by signal {-code}", code))
            else:
                exit_code = self._exit_code(job_id, code)
                if exit_code == 0:
                    state, message = JobState.COMPLETED, None
                else:
                    state, message = JobState.FAILED, f"exited with {exit_code}"
                result.append(JobStatus(state, message, exit_code, self._path(job_id, "out")))
        return result

    def _exit_code(self, job_id: str, script_status: int) -> int:
        """The command's status from the exit-code file; the script's own if there is none."""
        try:
            with open(self._path(job_id, "exit")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return script_status if script_status else 1

    def cancel(self, job_ids: list[str]) -> list[bool]:
        """Kill each job's session and reap it."""
        done = []
        for job_id in job_ids:
            proc = self._procs.get(job_id)
            if proc is None:
                done.append(False)
                continue
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            done.append(True)
        return done
