"""``slurm``: blocks are Slurm batch jobs submitted with ``sbatch``.

Job states come from the accounting database: one ``sacct`` call per poll for
every job of this run still being watched, which is what a busy cluster's
administrators want (``squeue`` asks slurmctld itself). ``sacct`` lags
``sbatch`` by a second or more, so a job it does not list yet is asked about
with ``squeue``, and a poll only updates the jobs some command reported. Where
accounting is disabled the provider falls back to ``squeue`` (and to the exit
status each job script leaves in the run directory) and says so once.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import math
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass

from plait.errors import ConfigError, SubmitException
from plait.launchers.base import Launcher
from plait.providers.base import ExecutionProvider, JobState, JobStatus

logger = logging.getLogger(__name__)

#: Every Slurm job state (``sacct``'s and ``squeue``'s long names) and what it means here.
SLURM_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING,
    "CONFIGURING": JobState.PENDING,  # nodes allocated, still booting: nothing runs yet
    "REQUEUED": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,  # processes may still be ending on the nodes
    "RESIZING": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED,
    "CANCELLED": JobState.CANCELLED,
    "PREEMPTED": JobState.CANCELLED,  # taken back by the scheduler, not the job's fault
    "REVOKED": JobState.CANCELLED,  # a federated sibling started it on another cluster
    "FAILED": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "TIMEOUT": JobState.TIMEOUT,
    "DEADLINE": JobState.TIMEOUT,
    "SUSPENDED": JobState.HELD,
    "STOPPED": JobState.HELD,
    "REQUEUE_HOLD": JobState.HELD,
    "RESV_DEL_HOLD": JobState.HELD,
}

#: A Slurm job id as sbatch prints it (array and heterogeneous job ids included).
_JOB_ID = re.compile(r"^\d+(?:_\d+|\+\d+)?$")
_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_DISABLED = "accounting storage is disabled"

#: sbatch's complaints, and the parameter each one is about.
_FIELD_HINTS: tuple[tuple[str, str], ...] = (
    ("invalid partition", "partition"),
    ("invalid account", "account"),
    ("association", "account"),
    ("invalid qos", "qos"),
    ("qos", "qos"),
    ("time limit", "walltime"),
    ("invalid time", "walltime"),
    ("feature", "constraint"),
    ("constraint", "constraint"),
    ("memory", "mem_per_node"),
    ("gres", "gpus_per_node"),
    ("gpu", "gpus_per_node"),
    ("node count", "nodes_per_block"),
    ("cpu count", "cores_per_node"),
    ("cpus", "cores_per_node"),
    ("cluster", "clusters"),
    ("node configuration", "nodes_per_block"),
)


def translate_state(slurm_state: str) -> tuple[JobState, str]:
    """Slurm's state (``"CANCELLED by 0"``, ``"RUNNING"``, ``"FAILED+"``) as a JobState,
    with the text to keep as the status message."""
    text = slurm_state.strip()
    base = text.split(" ", 1)[0].rstrip("+").upper()
    return SLURM_STATES.get(base, JobState.UNKNOWN), text


def walltime_seconds(walltime: str) -> int:
    """Seconds in a Slurm time limit (``HH:MM:SS``, ``MM:SS``, ``M``, ``D-HH[:MM[:SS]]``).

    :raises ValueError: not a Slurm time limit.
    """
    match = _WALLTIME.match(walltime.strip()) if isinstance(walltime, str) else None
    if not match:
        raise ValueError(walltime)
    days, a, b, c = match.groups()
    fields = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = ([*fields, 0, 0])[:3]
    elif len(fields) == 3:
        hours, minutes, seconds = fields
    elif len(fields) == 2:
        hours, minutes, seconds = 0, fields[0], fields[1]
    else:
        hours, minutes, seconds = 0, fields[0], 0
    if (len(fields) > 1 or days) and (minutes >= 60 or seconds >= 60):
        raise ValueError(walltime)
    total = int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(walltime)
    return total


def parse_exit_code(text: str) -> int | None:
    """sacct's ``ExitCode`` (``"3:0"``: status 3, no signal; ``"0:15"``: signal 15) as
    one number, a signal being negative as in :mod:`subprocess`."""
    status, _, signal = text.strip().partition(":")
    try:
        code = int(status)
        sig = int(signal) if signal else 0
    except ValueError:
        return None
    return -sig if code == 0 and sig else code


def parse_job_id(stdout: str) -> str | None:
    """The job id in ``sbatch --parsable``'s output (``"42"`` or ``"42;cluster"``)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    job_id = lines[-1].split(";", 1)[0].strip()
    return job_id if _JOB_ID.match(job_id) else None


@dataclass
class _Job:
    job_id: str
    submitted: float
    status: JobStatus
    exit_file: str | None = None
    seen: bool = False  # some command has listed it
    ran: bool = False  # some command has shown it running
    settle_until: float = 0.0  # ended per squeue: until then, sacct may add details


class SlurmProvider(ExecutionProvider):
    """Runs each block as a Slurm batch job.

    :param partition: ``--partition`` (None: the cluster's default).
    :param account: ``--account`` to charge.
    :param qos: ``--qos``.
    :param constraint: ``--constraint`` (node features, e.g. ``"cpu&haswell"``).
    :param clusters: ``--clusters`` for a multi-cluster site; also given to
        ``squeue``, ``sacct`` and ``scancel``.
    :param nodes_per_block: nodes in each block.
    :param cores_per_node: cores asked for on each node (``--cpus-per-task``, shared out
        over the tasks of a node); None asks for one per task.
    :param mem_per_node: GB of memory per node (``--mem``).
    :param gpus_per_node: ``--gpus-per-node``.
    :param init_blocks: blocks started at the beginning.
    :param min_blocks: blocks kept even when idle.
    :param max_blocks: most blocks at once.
    :param parallelism: ratio of blocks to outstanding tasks the strategy aims for.
    :param walltime: time limit of each block: ``"HH:MM:SS"`` (or any Slurm form:
        ``"MM"``, ``"MM:SS"``, ``"D-HH:MM:SS"``).
    :param scheduler_options: extra ``#SBATCH`` lines put in each job script (after
        plait's own, so they take precedence).
    :param worker_init: shell lines run before the command (``module load``, a venv).
    :param launcher: wraps the command (default :class:`SrunLauncher`).
    :param cmd_timeout: seconds ``sbatch``, ``sacct``, ``squeue`` and ``scancel`` may take.
    :param exclusive: ask for whole nodes (``--exclusive``). Off by default, so
        ``cores_per_node`` is what is allocated (and billed).
    :param script_dir: where job scripts, stdout and stderr go (executors set it to
        the run directory; default a new temporary directory). It must be visible
        from the compute nodes.
    :param status_polling_interval: seconds for which a status poll is reused.
    :param max_failed_polls: status commands that may fail in a row (each one
        warned about) before the jobs are reported UNKNOWN with the command's error.
    :param label: the provider's label in logs.
    """

    plugin_name = "slurm"

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        qos: str | None = None,
        constraint: str | None = None,
        clusters: str | None = None,
        nodes_per_block: int = 1,
        cores_per_node: int | None = None,
        mem_per_node: float | None = None,
        gpus_per_node: int | None = None,
        init_blocks: int = 1,
        min_blocks: int = 0,
        max_blocks: int = 1,
        parallelism: float = 1.0,
        walltime: str = "00:10:00",
        scheduler_options: str = "",
        worker_init: str = "",
        launcher: Launcher | None = None,
        cmd_timeout: float = 10.0,
        exclusive: bool = False,
        script_dir: str | None = None,
        status_polling_interval: float = 10.0,
        max_failed_polls: int = 3,
        label: str = "slurm",
    ) -> None:
        _check_name("partition", partition)
        _check_name("account", account)
        _check_name("qos", qos)
        _check_name("clusters", clusters)
        if constraint is not None and (not isinstance(constraint, str) or not constraint.strip()):
            raise ConfigError("constraint", constraint, "a Slurm feature expression, or None")
        _check_int("nodes_per_block", nodes_per_block, 1)
        _check_int("init_blocks", init_blocks, 0)
        _check_int("min_blocks", min_blocks, 0)
        _check_int("max_blocks", max_blocks, 0)
        if min_blocks > max_blocks:
            raise ConfigError("min_blocks", min_blocks, f"at most max_blocks ({max_blocks})")
        if cores_per_node is not None:
            _check_int("cores_per_node", cores_per_node, 1)
        if gpus_per_node is not None:
            _check_int("gpus_per_node", gpus_per_node, 0)
        if mem_per_node is not None and (
            isinstance(mem_per_node, bool)
            or not isinstance(mem_per_node, int | float)
            or not mem_per_node > 0
        ):
            raise ConfigError("mem_per_node", mem_per_node, "a number of GB above 0, or None")
        if isinstance(parallelism, bool) or not isinstance(parallelism, int | float):
            raise ConfigError("parallelism", parallelism, "a number from 0 to 1")
        if not 0 <= parallelism <= 1:
            raise ConfigError("parallelism", parallelism, "a number from 0 to 1")
        try:
            walltime_seconds(walltime)
        except ValueError:
            raise ConfigError(
                "walltime", walltime, "'HH:MM:SS' (or 'MM', 'MM:SS', 'D-HH:MM:SS'), above zero"
            ) from None
        for field, value in (
            ("cmd_timeout", cmd_timeout),
            ("status_polling_interval", status_polling_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(field, value, "a number of seconds above 0")
        _check_int("max_failed_polls", max_failed_polls, 1)
        if not isinstance(exclusive, bool):
            raise ConfigError("exclusive", exclusive, "True or False")
        if not isinstance(scheduler_options, str):
            raise ConfigError("scheduler_options", scheduler_options, "a string of #SBATCH lines")
        for line in scheduler_options.splitlines():
            if line.strip() and not line.strip().startswith("#"):
                raise ConfigError(
                    "scheduler_options",
                    scheduler_options,
                    "lines starting with '#SBATCH'",
                    f"{line.strip()!r} is not a directive; sbatch would ignore every #SBATCH "
                    "line after it (write it as '#SBATCH {line.strip()}')",
                )
        if launcher is not None and not isinstance(launcher, Launcher):
            raise ConfigError("launcher", launcher, "a plait Launcher (e.g. SrunLauncher())")
        if launcher is None:
            from plait_provider_slurm.launchers import SrunLauncher

            launcher = SrunLauncher()
        self.partition = partition
        self.account = account
        self.qos = qos
        self.constraint = constraint
        self.clusters = clusters
        self.nodes_per_block = nodes_per_block
        self.cores_per_node = cores_per_node
        self.mem_per_node = mem_per_node
        self.gpus_per_node = gpus_per_node
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.parallelism = parallelism
        self.walltime = walltime
        self.scheduler_options = scheduler_options
        self.worker_init = worker_init
        self.launcher = launcher
        self.cmd_timeout = cmd_timeout
        self.exclusive = exclusive
        self.script_dir = script_dir
        self.status_polling_interval = status_polling_interval
        self.max_failed_polls = max_failed_polls
        self.label = label
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.RLock()
        self._names = itertools.count()
        self._last_poll = -math.inf
        self._failed_polls = 0
        self._source: str | None = None  # "sacct" or "squeue", once known
        self._pid = os.getpid()
        _LIVE.add(self)

    # -- commands ---------------------------------------------------------

    def _cluster_args(self) -> list[str]:
        return [f"--clusters={self.clusters}"] if self.clusters else []

    def _run(self, argv: list[str]) -> tuple[int, str, str]:
        """Run a Slurm command; a timeout or a missing program is exit status 124/127."""
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.cmd_timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 124, "", f"{argv[0]} did not answer within cmd_timeout={self.cmd_timeout:g} s"
        except OSError as exc:
            return 127, "", f"cannot run {argv[0]}: {exc.strerror or exc}"
        return result.returncode, result.stdout, result.stderr

    # -- submit -----------------------------------------------------------

    def _script_dir(self) -> str:
        if self.script_dir is None:
            self.script_dir = tempfile.mkdtemp(prefix="plait-slurm-")
        os.makedirs(self.script_dir, exist_ok=True)
        return self.script_dir

    def job_script(self, command: str, tasks_per_node: int, job_name: str, base: str) -> str:
        """The batch script for one block (``base`` is the path prefix of its files)."""
        directives = [
            f"--job-name={job_name}",
            f"--output={base}.stdout",
            f"--error={base}.stderr",
            f"--nodes={self.nodes_per_block}",
            f"--ntasks-per-node={tasks_per_node}",
            f"--time={self.walltime}",
        ]
        env = []
        if self.partition:
            directives.append(f"--partition={self.partition}")
        if self.account:
            directives.append(f"--account={self.account}")
        if self.qos:
            directives.append(f"--qos={self.qos}")
        if self.constraint:
            directives.append(f"--constraint={self.constraint}")
        if self.clusters:
            directives.append(f"--clusters={self.clusters}")
        if self.exclusive:
            directives.append("--exclusive")
        if self.cores_per_node is not None:
            cpus = max(1, self.cores_per_node // max(1, tasks_per_node))
            directives.append(f"--cpus-per-task={cpus}")
            env.append(f"export PLAIT_CORES={cpus} PARSL_CORES={cpus}")
        if self.mem_per_node is not None:
            directives.append(f"--mem={max(1, int(self.mem_per_node * 1024))}M")
            env.append(
                f"export PLAIT_MEMORY_GB={self.mem_per_node} PARSL_MEMORY_GB={self.mem_per_node}"
            )
        if self.gpus_per_node:
            directives.append(f"--gpus-per-node={self.gpus_per_node}")
        launch = (
            self.launcher(command, tasks_per_node, self.nodes_per_block)
            if self.launcher is not None
            else command
        )
        lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in directives)]
        lines += [line for line in self.scheduler_options.splitlines() if line.strip()]
        lines += env
        lines += [self.worker_init, "(", launch.rstrip("\n"), ")", "status=$?"]
        lines += [f'echo "$status" > {base}.exitcode', 'exit "$status"', ""]
        return "\n".join(lines)

    def submit(self, command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        """Write the job script to ``script_dir`` and ``sbatch`` it; returns Slurm's job id.

        :raises plait.errors.SubmitException: sbatch refused the job (the message quotes
            its stderr and names the parameter it is about) or did not answer.
        """
        if tasks_per_node < 1:
            raise ConfigError("tasks_per_node", tasks_per_node, "an integer >= 1")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", job_name) or "plait.job"
        base = os.path.join(
            self._script_dir(), f"{safe}.{next(self._names)}.{uuid.uuid4().hex[:6]}"
        )
        script = f"{base}.submit"
        with open(script, "w") as f:
            f.write(self.job_script(command, tasks_per_node, job_name, base))
        code, out, err = self._run(["sbatch", "--parsable", script])
        if code != 0:
            raise SubmitException(job_name, self._explain(code, err), out, err)
        job_id = parse_job_id(out)
        if job_id is None:
            raise SubmitException(
                job_name, f"cannot find a job id in sbatch's output {out.strip()!r}", out, err
            )
        with self._lock:
            self._jobs[job_id] = _Job(
                job_id,
                time.monotonic(),
                JobStatus(JobState.PENDING, None, None, f"{base}.stdout", f"{base}.stderr"),
                f"{base}.exitcode",
            )
        logger.debug("%s: submitted %s as job %s (%s)", self.label, job_name, job_id, script)
        return job_id

    def _explain(self, code: int, stderr: str) -> str:
        if code in (124, 127):
            return stderr.strip()
        lowered = stderr.lower()
        for needle, field in _FIELD_HINTS:
            if needle in lowered:
                return (
                    f"sbatch exited {code}; check {field}={getattr(self, field)!r} "
                    f"(sbatch: {_first_error(stderr)})"
                )
        return f"sbatch exited {code}: {_first_error(stderr)}"

    # -- status -----------------------------------------------------------

    @property
    def status_source(self) -> str | None:
        """``"sacct"`` or ``"squeue"`` once the first poll has found out, else None."""
        return self._source

    def status(self, job_ids: list[str]) -> list[JobStatus]:
        """One status per id, in order. Polls (one ``sacct`` call, plus ``squeue`` for
        jobs sacct does not list yet) at most every ``status_polling_interval`` seconds,
        unless a job id is asked about for the first time."""
        if not job_ids:
            return []
        with self._lock:
            fresh = [j for j in job_ids if j not in self._jobs and _JOB_ID.match(j)]
            for job_id in fresh:  # an id from elsewhere (an earlier run): watch it too
                self._jobs[job_id] = _Job(job_id, -math.inf, JobStatus(JobState.UNKNOWN))
            if fresh or time.monotonic() - self._last_poll >= self.status_polling_interval:
                self._poll()
            result = []
            for job_id in job_ids:
                job = self._jobs.get(job_id)
                if job is None:
                    result.append(JobStatus(JobState.MISSING, f"{job_id!r} is not a Slurm job id"))
                else:
                    result.append(_copy(job.status))
            return result

    def _poll(self) -> None:
        self._last_poll = now = time.monotonic()
        active = [j for j in self._jobs.values() if not j.status.terminal]
        # jobs squeue saw end before sacct listed them: sacct still has their details
        # ("CANCELLED by 0", the exit code), so ask it for a while longer
        settling = [
            j
            for j in self._jobs.values()
            if j.status.terminal and j.settle_until > now and self._source != "squeue"
        ]
        if not active and not settling:
            return
        reported: dict[str, tuple[str, int | None, str]] = {}
        if self._source != "squeue":
            rows, error = self._sacct([j.job_id for j in active + settling])
            if error is not None and _DISABLED in error.lower():
                self._source = "squeue"
                settling = []
                logger.warning(
                    "%s: Slurm accounting is disabled here (sacct: %s); job states come from "
                    "squeue and each job's exit-code file",
                    self.label,
                    _first_error(error),
                )
            elif error is not None:
                if active:
                    self._poll_failed(active, "sacct", error)
                return
            else:
                if self._source is None:
                    self._source = "sacct"
                    logger.info(
                        "%s: job states come from sacct (the accounting database)", self.label
                    )
                reported.update(rows)
                for job in settling:
                    row = rows.get(job.job_id)
                    if row is not None and translate_state(row[0])[0].terminal:
                        self._update(job, *row)
                        job.settle_until = 0.0
                for job in active:
                    row = rows.get(job.job_id)
                    if (
                        row is not None
                        and job.ran
                        and translate_state(row[0])[0]
                        in (
                            JobState.PENDING,
                            JobState.UNKNOWN,
                        )
                    ):
                        del reported[job.job_id]  # sacct lags what squeue showed: ask squeue
        missing = [j.job_id for j in active if j.job_id not in reported]
        squeue_rows: set[str] = set()
        if missing:
            rows, error = self._squeue(missing)
            if error is not None:
                if self._source == "squeue":
                    self._poll_failed(active, "squeue", error)
                    return
                logger.warning("%s: squeue failed (%s); keeping states", self.label, error)
                rows = {}
            reported.update(rows)
            squeue_rows = set(rows)
        self._failed_polls = 0
        for job in active:
            row = reported.get(job.job_id)
            if row is not None:
                job.seen = True
                self._update(job, *row)
                if job.status.terminal and job.job_id in squeue_rows:
                    job.settle_until = now + 30.0
                continue
            finished = _read_exit_file(job.exit_file)
            if finished is not None and (self._source == "squeue" or job.seen):
                # gone from squeue (MinJobAge) after it ran: the script left its status
                self._update(job, "COMPLETED" if finished == 0 else "FAILED", finished, "")
            elif job.submitted == -math.inf or (
                job.seen and now - job.submitted > 10 * self.status_polling_interval + 60
            ):
                job.status = JobStatus(
                    JobState.MISSING,
                    f"Slurm has no record of job {job.job_id} (neither sacct nor squeue lists it)",
                    None,
                    job.status.stdout_path,
                    job.status.stderr_path,
                )
            # else: sacct has not caught up with sbatch yet; the job is still queued

    def _update(self, job: _Job, slurm_state: str, exit_code: int | None, reason: str) -> None:
        state, text = translate_state(slurm_state)
        reason = "" if reason in ("", "None", "(null)") else reason
        if state is JobState.UNKNOWN:
            message: str | None = f"unknown Slurm state {slurm_state!r}"
        elif state in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETED) and (
            text == state.name
        ):
            message = reason or None  # e.g. PENDING because of "Resources" or "BeginTime"
        else:
            message = f"{text} ({reason})" if reason else text
        if state is JobState.RUNNING:
            job.ran = True
        if state.terminal and exit_code is None:
            exit_code = _read_exit_file(job.exit_file)
        job.status = JobStatus(
            state,
            message,
            exit_code if state.terminal else None,
            job.status.stdout_path,
            job.status.stderr_path,
        )

    def _poll_failed(self, watched: list[_Job], command: str, error: str) -> None:
        self._failed_polls += 1
        text = _first_error(error)
        logger.warning(
            "%s: %s failed (%d of %d tolerated): %s",
            self.label,
            command,
            self._failed_polls,
            self.max_failed_polls,
            text,
        )
        if self._failed_polls >= self.max_failed_polls:
            for job in watched:
                job.status = JobStatus(
                    JobState.UNKNOWN,
                    f"{command} failed {self._failed_polls} times in a row: {text}",
                    None,
                    job.status.stdout_path,
                    job.status.stderr_path,
                )

    def _sacct(self, ids: list[str]) -> tuple[dict[str, tuple[str, int | None, str]], str | None]:
        argv = ["sacct", "-X", "-n", "-P", "-o", "JobID,State,ExitCode,Reason"]
        argv += [*self._cluster_args(), f"--jobs={','.join(ids)}"]
        code, out, err = self._run(argv)
        if code != 0:
            return {}, err.strip() or f"sacct exited {code}"
        rows: dict[str, tuple[str, int | None, str]] = {}
        for line in out.splitlines():
            fields = line.split("|")
            if len(fields) < 3:
                continue
            job_id, state, exit_text = fields[0], fields[1], fields[2]
            reason = fields[3] if len(fields) > 3 else ""
            rows[job_id] = (state, parse_exit_code(exit_text), reason)
        return rows, None

    def _squeue(self, ids: list[str]) -> tuple[dict[str, tuple[str, int | None, str]], str | None]:
        argv = ["squeue", "-h", "--states=all", "-o", "%i|%T|%r", *self._cluster_args()]
        argv.append(f"--jobs={','.join(ids)}")
        code, out, err = self._run(argv)
        if code != 0:
            if "invalid job id" in err.lower():
                return {}, None  # none of them is known any more
            return {}, err.strip() or f"squeue exited {code}"
        rows: dict[str, tuple[str, int | None, str]] = {}
        for line in out.splitlines():
            fields = line.strip().split("|")
            if len(fields) >= 2 and fields[0] in ids:
                rows[fields[0]] = (fields[1], None, fields[2] if len(fields) > 2 else "")
        return rows, None

    # -- cancel -----------------------------------------------------------

    def cancel(self, job_ids: list[str]) -> list[bool]:
        """``scancel`` the jobs (pending ones included); True for each job now cancelled
        or already finished, False for ids Slurm does not know."""
        if not job_ids:
            return []
        valid = [j for j in job_ids if _JOB_ID.match(j)]
        refused: set[str] = set()
        if valid:
            code, _, err = self._run(["scancel", *self._cluster_args(), *valid])
            if code != 0:
                for line in err.splitlines():
                    if "invalid job id" in line.lower():
                        refused.update(j for j in valid if re.search(rf"\b{re.escape(j)}\b", line))
                if code in (124, 127):
                    logger.warning("%s: scancel failed: %s", self.label, err.strip())
                    refused.update(valid)
        with self._lock:
            self._last_poll = -math.inf  # the next status asks Slurm again
        return [j in valid and j not in refused for j in job_ids]

    def cancel_all(self) -> None:
        """Cancel every job this provider submitted that is not known to be finished."""
        with self._lock:
            live = [
                j.job_id
                for j in self._jobs.values()
                if not j.status.terminal and j.submitted > -math.inf
            ]
        if live:
            self.cancel(live)


def _check_name(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ConfigError(field, value, "a Slurm name without spaces, or None")


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(field, value, f"an integer >= {minimum}")


def _first_error(stderr: str) -> str:
    """The error lines of a command's stderr, joined (all of it if none says error)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return " / ".join(errors or lines or ["(no output)"])


def _read_exit_file(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def _copy(status: JobStatus) -> JobStatus:
    return JobStatus(
        status.state, status.message, status.exit_code, status.stdout_path, status.stderr_path
    )


#: every provider of this process, so jobs still queued or running are cancelled at exit
_LIVE: weakref.WeakSet[SlurmProvider] = weakref.WeakSet()


@atexit.register
def _cancel_at_exit() -> None:
    for provider in list(_LIVE):
        if provider._pid != os.getpid():
            continue  # a forked child does not own its parent's jobs
        try:
            provider.cancel_all()
        except Exception:  # exiting anyway; never hide the real error
            logger.debug("cancelling %s's jobs at exit failed", provider.label, exc_info=True)
