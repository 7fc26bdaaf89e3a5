"""The contract suites: plain classes whose ``test_*`` methods a plugin's tests inherit.

Each suite asks for one fixture (``executor``, ``provider``, ``launcher``,
``staging``, ``serializer``) that the subclass defines; the placeholder here
fails with a message saying so. Nothing in a suite sleeps to synchronise: every
wait polls with a short interval until a deadline (:func:`wait_until`).

The task functions below (:func:`add`, :func:`fail_with`, ...) are module-level
functions of an installed module, so executors that ship tasks to other
processes can send them by reference.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

import plait
from plait.config import Config
from plait.data_provider.files import File
from plait.data_provider.staging import Staging
from plait.errors import DeserializationError, InvalidResourceSpecification
from plait.executors.base import Executor
from plait.executors.threads import ThreadPoolExecutor
from plait.launchers.base import Launcher
from plait.plugins.registry import Registry
from plait.providers.base import ExecutionProvider, JobState, JobStatus
from plait.serialize.base import Serializer
from plait.serialize.facade import pack, unpack

T = TypeVar("T")

#: URL scheme syntax (RFC 3986), lowercase as plait compares schemes.
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*$")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.02, what: str = "condition"
) -> T:
    """Poll ``predicate`` every ``interval`` seconds until it returns a true value.

    :returns: that value.
    :raises AssertionError: ``timeout`` seconds passed first; names ``what`` and
        the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{what} not reached within {timeout:g} s (last value: {value!r})")
        time.sleep(min(interval, remaining))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True  # no /proc (macOS): kill(pid, 0) succeeding is all we know
    fields = stat.rpartition(")")[2].split()
    return not fields or fields[0] not in ("Z", "X")


def _check_plugin_class(kind: str, base: type[Any], cls: type[Any]) -> None:
    """Register ``cls`` in a scratch registry: the exact check plugin loading applies."""
    registry: Registry[Any] = Registry(kind, base)
    try:
        registry.add(cls)
    except TypeError as exc:
        pytest.fail(f"{cls.__qualname__} cannot be registered as a {kind}: {exc}")
    assert cls.plugin_name in registry


def _scratch_dir(root: Path, prefix: str) -> Path:
    path = root / f"{prefix}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# ---------------------------------------------------------------------------
# Task functions: importable, so any executor can ship them
# ---------------------------------------------------------------------------


class ContractTaskError(Exception):
    """The exception :func:`fail_with` raises; it must come back to the submitter as itself."""


def add(a: Any, b: Any = 0) -> Any:
    """``a + b``."""
    return a + b


def double(x: int) -> int:
    """``2 * x``."""
    return 2 * x


def total(inputs: Any = ()) -> Any:
    """The sum of ``inputs`` (a kernel passes the results of futures listed there)."""
    return sum(inputs)


def fail_with(message: str) -> None:
    """Raise :class:`ContractTaskError` with ``message``."""
    raise ContractTaskError(message)


def parse_int(text: str) -> int:
    """``int(text)``: a ``ValueError`` for text that is not a number."""
    return int(text)


def wait_for_file(path: str, timeout: float) -> bool:
    """Poll until ``path`` exists (a release signal from the test); True, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:g} s")
        time.sleep(0.01)
    return True


def echo_to(path: str, text: str) -> str:
    """A bash app body: write ``text`` to ``path``."""
    return f"echo {shlex.quote(text)} > {shlex.quote(path)}"


def read_inputs(inputs: Any = ()) -> list[bytes]:
    """The bytes of each staged input file."""
    contents = []
    for file in inputs:
        with open(file.filepath, "rb") as f:
            contents.append(f.read())
    return contents


# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------


class ExecutorContract:
    """The executor contract. Subclass it and define the ``executor`` fixture::

        class TestMyExecutor(ExecutorContract):
            @pytest.fixture
            def executor(self):
                return MyExecutor(label="mine", workers=2)

    The fixture returns a constructed executor that has *not* been started:
    the suite sets ``run_dir`` and ``run_id`` to a temporary directory, calls
    ``start()``, and calls ``shutdown()`` afterwards (and also hands the
    executor to a real DataFlowKernel, which does the same). The tasks are
    functions of this module, so executors that run tasks in other processes
    can send them by reference; those processes need ``plait`` installed and
    must share the test's temporary directory (a local file system).

    Tune with class attributes: ``timeout`` (seconds a task may take),
    ``concurrent_tasks``, ``busy_tasks`` (more than the executor's workers, so
    some tasks queue), ``shutdown_timeout``, and ``resource_specification``: what
    every task asks for, for executors that need a request (an MPI executor's
    ``{"num_nodes": 1, "num_ranks": 1}``).
    """

    resource_specification: ClassVar[Mapping[str, Any]] = {}
    timeout: ClassVar[float] = 30.0
    concurrent_tasks: ClassVar[int] = 100
    busy_tasks: ClassVar[int] = 8
    shutdown_timeout: ClassVar[float] = 30.0

    def spec(self) -> dict[str, Any]:
        """A fresh copy of ``resource_specification`` for one task."""
        return dict(self.resource_specification)

    @pytest.fixture
    def executor(self) -> Executor:
        """Placeholder: subclasses return a constructed, not yet started executor."""
        pytest.fail(f"{type(self).__name__} must define an `executor` fixture")

    @pytest.fixture
    def running_executor(self, executor: Executor, tmp_path: Path) -> Iterator[Executor]:
        """``executor`` given a run directory and started; shut down afterwards."""
        executor.run_dir = str(_scratch_dir(tmp_path, "contract-run"))
        executor.run_id = f"contract-{uuid.uuid4()}"
        executor.start()
        try:
            yield executor
        finally:
            executor.shutdown()

    def test_plugin_name_is_valid(self, executor: Executor) -> None:
        """The class registers as an executor: an Executor with a lowercase ``plugin_name``."""
        assert isinstance(executor, Executor)
        _check_plugin_class("executor", Executor, type(executor))
        assert isinstance(type(executor).can_cancel_running, bool)
        assert isinstance(executor.label, str) and executor.label

    def test_submit_returns_future_with_result(self, running_executor: Executor) -> None:
        """``submit`` returns a ``concurrent.futures.Future`` that completes with the result."""
        fut = running_executor.submit(add, self.spec(), 1, 2)
        assert isinstance(fut, Future), f"submit returned {type(fut).__name__}, not a Future"
        assert fut.result(timeout=self.timeout) == 3
        keyword = running_executor.submit(add, self.spec(), 40, b=2)
        assert keyword.result(timeout=self.timeout) == 42

    def test_exception_comes_back_as_its_own_type(self, running_executor: Executor) -> None:
        """A task's exception fails its Future with the same exception type and message."""
        fut = running_executor.submit(fail_with, self.spec(), "contract failure")
        with pytest.raises(ContractTaskError, match="contract failure"):
            fut.result(timeout=self.timeout)
        builtin = running_executor.submit(parse_int, self.spec(), "not a number")
        with pytest.raises(ValueError):
            builtin.result(timeout=self.timeout)
        # The executor keeps working after tasks failed.
        assert running_executor.submit(add, self.spec(), 2, 2).result(timeout=self.timeout) == 4

    def test_many_concurrent_submits_all_complete(self, running_executor: Executor) -> None:
        """Tasks submitted from several threads at once all complete with their own results."""
        submitters = 4
        per_thread = max(1, self.concurrent_tasks // submitters)

        def submit_batch(batch: int) -> list[tuple[int, Future[Any]]]:
            return [
                (
                    batch * per_thread + i,
                    running_executor.submit(add, self.spec(), batch * per_thread, i),
                )
                for i in range(per_thread)
            ]

        with concurrent.futures.ThreadPoolExecutor(submitters) as pool:
            batches = [pool.submit(submit_batch, b) for b in range(submitters)]
            submitted = [item for batch in batches for item in batch.result(timeout=self.timeout)]
        futures = [fut for _, fut in submitted]
        _, not_done = concurrent.futures.wait(futures, timeout=self.timeout)
        assert not not_done, (
            f"{len(not_done)} of {len(futures)} tasks unfinished after {self.timeout:g} s"
        )
        assert [fut.result() for _, fut in submitted] == [expected for expected, _ in submitted]

    def test_unsupported_resource_specification(self, running_executor: Executor) -> None:
        """An unknown resource key raises ``InvalidResourceSpecification`` naming it at
        submit time, or is accepted and the task runs."""
        key = "plait_contract_unsupported_key"
        try:
            fut = running_executor.submit(add, {**self.spec(), key: 1}, 1, 2)
        except InvalidResourceSpecification as exc:
            assert key in exc.invalid_keys or key in str(exc), f"error does not name {key!r}: {exc}"
        else:
            assert fut.result(timeout=self.timeout) == 3
        assert running_executor.submit(add, self.spec(), 1, 2).result(timeout=self.timeout) == 3

    def test_cancel_before_start(self, running_executor: Executor, tmp_path: Path) -> None:
        """``cancel`` of a queued task returns True (its Future then ends) or the task completes."""
        release = _scratch_dir(tmp_path, "contract-cancel") / "release"
        busy = [
            running_executor.submit(wait_for_file, self.spec(), str(release), self.timeout)
            for _ in range(self.busy_tasks)
        ]
        target = running_executor.submit(add, self.spec(), 2, 3)
        try:
            cancelled = running_executor.cancel(target)
        finally:
            release.write_text("go")
        assert isinstance(cancelled, bool), f"cancel returned {cancelled!r}, not a bool"
        if cancelled:
            wait_until(target.done, self.timeout, what="the cancelled task's Future to be done")
            assert target.cancelled() or target.exception() is not None
        else:
            assert target.result(timeout=self.timeout) == 5
        _, not_done = concurrent.futures.wait(busy, timeout=self.timeout)
        assert not not_done, f"{len(not_done)} busy tasks unfinished"
        assert all(fut.result() is True for fut in busy)
        assert running_executor.submit(add, self.spec(), 1, 1).result(timeout=self.timeout) == 2

    def test_shutdown_is_idempotent_and_bounded(self, running_executor: Executor) -> None:
        """``shutdown`` returns in bounded time, can be called again, and leaves no
        Future hanging (each completes, fails or is cancelled)."""
        assert running_executor.submit(add, self.spec(), 1, 1).result(timeout=self.timeout) == 2
        outstanding = [
            running_executor.submit(add, self.spec(), i, 0) for i in range(self.busy_tasks)
        ]
        for attempt in (1, 2):
            began = time.monotonic()
            running_executor.shutdown()
            took = time.monotonic() - began
            assert took < self.shutdown_timeout, f"shutdown #{attempt} took {took:.1f} s"
        for fut in outstanding:
            wait_until(fut.done, self.timeout, what="a Future outstanding at shutdown to be done")

    def test_shutdown_without_start(self, executor: Executor) -> None:
        """An executor that was never started shuts down at once, twice (a kernel whose
        start failed does this)."""
        for _ in (1, 2):
            began = time.monotonic()
            executor.shutdown()
            assert time.monotonic() - began < self.shutdown_timeout

    def test_runs_apps_under_dataflowkernel(self, executor: Executor, tmp_path: Path) -> None:
        """``plait.load(Config(executors=[executor]))`` runs python and bash apps on it."""
        config = Config(executors=[executor], run_dir=str(tmp_path / "runinfo"))
        double_app = plait.python_app(double)
        total_app = plait.python_app(total)
        failing_app = plait.python_app(fail_with)
        echo_app = plait.bash_app(echo_to)
        out = tmp_path / "bash-app.out"
        kernel = plait.load(config)
        try:
            assert executor.run_dir == kernel.run_dir
            ask = {"parsl_resource_specification": self.spec()}
            doubled = [double_app(i, **ask) for i in range(10)]
            summed = total_app(inputs=doubled, **ask)
            assert summed.result(timeout=self.timeout) == sum(2 * i for i in range(10))
            with pytest.raises(ContractTaskError, match="through the kernel"):
                failing_app("through the kernel", **ask).result(timeout=self.timeout)
            echoed = echo_app(str(out), "hello from bash", **ask)
            assert echoed.result(timeout=self.timeout) == 0
            assert out.read_text() == "hello from bash\n"
        finally:
            began = time.monotonic()
            kernel.cleanup()
            took = time.monotonic() - began
        assert took < self.shutdown_timeout, f"kernel cleanup took {took:.1f} s"


# ---------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------


class ProviderContract:
    """The execution-provider contract. Subclass it and define the ``provider`` fixture::

        class TestToyProvider(ProviderContract):
            @pytest.fixture
            def provider(self, tmp_path):
                return ToyProvider(spool_dir=str(tmp_path))

    The suite submits real, short shell commands (``/bin/bash -c '...'``, one
    command per job, ``tasks_per_node=1``) and polls ``status`` every
    ``poll_interval`` seconds until a deadline of ``timeout`` seconds. Jobs
    must be able to write to the test's temporary directory. Any job a test
    leaves unfinished is cancelled afterwards.
    """

    timeout: ClassVar[float] = 30.0
    poll_interval: ClassVar[float] = 0.05

    @pytest.fixture
    def provider(self) -> ExecutionProvider:
        """Placeholder: subclasses return the provider under test."""
        pytest.fail(f"{type(self).__name__} must define a `provider` fixture")

    @pytest.fixture
    def provider_jobs(self, provider: ExecutionProvider) -> Iterator[list[str]]:
        """Ids of jobs a test submitted; those still alive afterwards are cancelled."""
        jobs: list[str] = []
        yield jobs
        if not jobs:
            return
        try:
            alive = [
                job for job, st in zip(jobs, provider.status(jobs), strict=True) if not st.terminal
            ]
        except Exception:
            alive = list(jobs)
        if alive:
            provider.cancel(alive)

    def _submit(self, provider: ExecutionProvider, jobs: list[str], script: str) -> str:
        command = f"/bin/bash -c {shlex.quote(script)}"
        job_id = provider.submit(command, 1, job_name="plait-contract")
        assert isinstance(job_id, str) and job_id, f"submit returned job id {job_id!r}"
        jobs.append(job_id)
        return job_id

    def _status(self, provider: ExecutionProvider, job_id: str) -> JobStatus:
        statuses = provider.status([job_id])
        assert isinstance(statuses, list) and len(statuses) == 1, f"status returned {statuses!r}"
        assert isinstance(statuses[0], JobStatus), f"status returned {statuses[0]!r}"
        return statuses[0]

    def _wait_terminal(self, provider: ExecutionProvider, job_id: str) -> JobStatus:
        def terminal() -> JobStatus | None:
            status = self._status(provider, job_id)
            return status if status.terminal else None

        status = wait_until(
            terminal, self.timeout, self.poll_interval, what=f"a terminal state of job {job_id}"
        )
        assert status is not None
        return status

    def test_plugin_name_is_valid(self, provider: ExecutionProvider) -> None:
        """The class registers as a provider: an ExecutionProvider with a lowercase
        ``plugin_name``."""
        assert isinstance(provider, ExecutionProvider)
        _check_plugin_class("provider", ExecutionProvider, type(provider))
        assert isinstance(provider.label, str) and provider.label
        assert provider.status_polling_interval > 0

    def test_job_completes(
        self, provider: ExecutionProvider, provider_jobs: list[str], tmp_path: Path
    ) -> None:
        """A command that succeeds runs, ends COMPLETED, and its process is gone afterwards."""
        work = _scratch_dir(tmp_path, "contract-job")
        marker, pid_file = work / "marker", work / "pid"
        script = (
            f"echo $$ > {shlex.quote(str(pid_file))}.tmp && "
            f"mv {shlex.quote(str(pid_file))}.tmp {shlex.quote(str(pid_file))} && "
            f"echo done > {shlex.quote(str(marker))}"
        )
        job_id = self._submit(provider, provider_jobs, script)
        status = self._wait_terminal(provider, job_id)
        assert status.state is JobState.COMPLETED, f"job ended {status}"
        assert status.exit_code in (None, 0), f"completed job has exit code {status.exit_code}"
        assert marker.read_text() == "done\n"
        recorded = _read_pid(pid_file)
        assert recorded is not None, "the job did not record its process id"
        pid: int = recorded
        wait_until(lambda: not process_alive(pid), self.timeout, what=f"process {pid} to be gone")

    def test_failing_job_reports_failed_with_exit_code(
        self, provider: ExecutionProvider, provider_jobs: list[str]
    ) -> None:
        """A command exiting 3 ends FAILED with ``exit_code`` 3."""
        job_id = self._submit(provider, provider_jobs, "exit 3")
        status = self._wait_terminal(provider, job_id)
        assert status.state is JobState.FAILED, f"job exiting 3 ended {status}"
        assert status.exit_code == 3, f"job exiting 3 reports exit code {status.exit_code!r}"

    def test_status_keeps_order(
        self, provider: ExecutionProvider, provider_jobs: list[str]
    ) -> None:
        """``status`` answers in the order of the ids it was given; ``status([])`` is empty."""
        ok = self._submit(provider, provider_jobs, "true")
        bad = self._submit(provider, provider_jobs, "exit 4")
        self._wait_terminal(provider, ok)
        self._wait_terminal(provider, bad)
        states = [s.state for s in provider.status([bad, ok])]
        assert states == [JobState.FAILED, JobState.COMPLETED], states
        assert provider.status([]) == []

    def test_cancel_ends_running_job(
        self, provider: ExecutionProvider, provider_jobs: list[str], tmp_path: Path
    ) -> None:
        """Cancelling a long-running job returns True, its status becomes terminal (not
        COMPLETED), and its process is gone."""
        pid_file = _scratch_dir(tmp_path, "contract-cancel") / "pid"
        script = (
            f"echo $$ > {shlex.quote(str(pid_file))}.tmp && "
            f"mv {shlex.quote(str(pid_file))}.tmp {shlex.quote(str(pid_file))} && exec sleep 300"
        )
        job_id = self._submit(provider, provider_jobs, script)
        recorded = wait_until(
            lambda: _read_pid(pid_file), self.timeout, self.poll_interval, what="the job to start"
        )
        assert recorded is not None
        pid: int = recorded
        running = self._status(provider, job_id)
        assert not running.terminal, f"a job still sleeping reports {running}"
        assert provider.cancel([job_id]) == [True]
        status = self._wait_terminal(provider, job_id)
        assert status.state is not JobState.COMPLETED, f"a cancelled job reports {status}"
        wait_until(lambda: not process_alive(pid), self.timeout, what=f"process {pid} to be gone")

    def test_cancel_finished_job(
        self, provider: ExecutionProvider, provider_jobs: list[str]
    ) -> None:
        """Cancelling a job that already finished is harmless: True, and it stays terminal."""
        job_id = self._submit(provider, provider_jobs, "true")
        self._wait_terminal(provider, job_id)
        assert provider.cancel([job_id]) == [True]
        assert self._status(provider, job_id).terminal
        assert provider.cancel([]) == []

    def test_unknown_job_id(self, provider: ExecutionProvider) -> None:
        """An id the provider never issued raises nothing and does not look alive."""
        unknown = f"plait-contract-unknown-{uuid.uuid4().hex[:8]}"
        status = self._status(provider, unknown)
        assert (
            status.state is JobState.MISSING or status.state is JobState.UNKNOWN or status.terminal
        ), f"unknown job {unknown} reports {status}; expected MISSING"
        cancelled = provider.cancel([unknown])
        assert isinstance(cancelled, list) and len(cancelled) == 1
        assert isinstance(cancelled[0], bool)


# ---------------------------------------------------------------------------
# Launchers
# ---------------------------------------------------------------------------


class LauncherContract:
    """The launcher contract. Subclass it and define the ``launcher`` fixture::

        class TestMyLauncher(LauncherContract):
            expected_copies = 2          # optional, see below

            @pytest.fixture
            def launcher(self):
                return MyLauncher()

    The suite calls the launcher, writes its output into a job script and runs
    that with ``/bin/bash`` on this machine, with ``tasks_per_node=2`` and
    ``nodes_per_block=1``. Set ``expected_copies`` to the number of times your
    launcher starts the command in that case (2 for a launcher that starts one
    copy per task, 1 for one that runs the command once); ``None`` only
    requires at least one. A launcher that needs a program this machine lacks
    (``srun``) can skip these tests in its fixture.
    """

    timeout: ClassVar[float] = 30.0
    expected_copies: ClassVar[int | None] = None

    @pytest.fixture
    def launcher(self) -> Launcher:
        """Placeholder: subclasses return the launcher under test."""
        pytest.fail(f"{type(self).__name__} must define a `launcher` fixture")

    def _run(
        self, launcher: Launcher, command: str, work: Path
    ) -> subprocess.CompletedProcess[str]:
        line = launcher(command, 2, 1)
        script = work / "job.sh"
        script.write_text(f"#!/bin/bash\n{line}\n")
        return subprocess.run(
            ["/bin/bash", str(script)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            cwd=work,
            check=False,
        )

    def test_plugin_name_is_valid(self, launcher: Launcher) -> None:
        """The class registers as a launcher: a Launcher with a lowercase ``plugin_name``."""
        assert isinstance(launcher, Launcher)
        _check_plugin_class("launcher", Launcher, type(launcher))

    def test_returns_string_containing_command(self, launcher: Launcher) -> None:
        """The result is a ``str`` that contains the command unchanged."""
        command = "plait-contract-worker --block 7 --url 'tcp://127.0.0.1:5555'"
        for tasks_per_node, nodes in ((1, 1), (2, 1), (4, 2)):
            line = launcher(command, tasks_per_node, nodes)
            assert isinstance(line, str), f"launcher returned {type(line).__name__}"
            assert command in line, f"the command is not in the launcher's output:\n{line}"

    def test_runs_the_command(self, launcher: Launcher, tmp_path: Path) -> None:
        """Run under bash, the launcher's output runs the command (each run leaves a file)."""
        work = _scratch_dir(tmp_path, "contract-launch")
        runs = work / "runs"
        runs.mkdir()
        result = self._run(launcher, f"mktemp {shlex.quote(str(runs))}/ran.XXXXXXXX", work)
        assert result.returncode == 0, f"job script exited {result.returncode}: {result.stderr}"
        wanted = self.expected_copies or 1
        wait_until(
            lambda: len(list(runs.iterdir())) >= wanted,
            self.timeout,
            what=f"{wanted} run(s) of the command",
        )
        if self.expected_copies is not None:
            copies = len(list(runs.iterdir()))
            assert copies == self.expected_copies, f"the command ran {copies} times"

    def test_failing_command_fails_the_job(self, launcher: Launcher, tmp_path: Path) -> None:
        """A command that exits non-zero makes the job script exit non-zero."""
        work = _scratch_dir(tmp_path, "contract-launch-fail")
        result = self._run(launcher, "/bin/bash -c 'exit 7'", work)
        assert result.returncode != 0, "a failing command left the job script exiting 0"


# ---------------------------------------------------------------------------
# Staging
# ---------------------------------------------------------------------------


class StagingContract:
    """The staging-provider contract. Subclass it and define the ``staging`` fixture::

        class TestMyStaging(StagingContract):
            @pytest.fixture
            def staging(self):
                return MyStaging()

            @pytest.fixture
            def staging_file(self, tmp_path):        # an existing file of your scheme
                return File("myscheme://server/data/input.txt")

            @pytest.fixture
            def staging_output_file(self, tmp_path): # where stage-out may write
                return File(f"myscheme://server/scratch/{tmp_path.name}.out")

    ``staging_file`` and ``staging_output_file`` are optional for providers
    of the ``file`` scheme (the suite makes them in a temporary directory);
    otherwise tests needing them are skipped until you define them. Set
    ``stages_out = False`` for a read-only provider (``https``): it must then
    refuse ``can_stage_out``.

    For a provider that is not a no-op, outputs are staged out from the
    ``local_path`` the suite sets to a path in the working directory.
    """

    timeout: ClassVar[float] = 30.0
    stages_out: ClassVar[bool] = True

    @pytest.fixture
    def staging(self) -> Staging:
        """Placeholder: subclasses return the staging provider under test."""
        pytest.fail(f"{type(self).__name__} must define a `staging` fixture")

    @pytest.fixture
    def staging_file(self, staging: Staging, tmp_path: Path) -> File:
        """An existing, readable file of the provider's scheme (made here for ``file``)."""
        if "file" not in staging.schemes:
            pytest.skip(f"define a `staging_file` fixture returning a File of {staging.schemes}")
        path = _scratch_dir(tmp_path, "contract-source") / "input.txt"
        path.write_bytes(b"plait staging contract input\n")
        return File(str(path))

    @pytest.fixture
    def staging_output_file(self, staging: Staging, tmp_path: Path) -> File:
        """A File of the provider's scheme that stage-out may create (made here for ``file``)."""
        if "file" not in staging.schemes:
            pytest.skip(
                f"define a `staging_output_file` fixture returning a File of {staging.schemes}"
            )
        return File(str(_scratch_dir(tmp_path, "contract-dest") / "output.txt"))

    def test_plugin_name_and_schemes_are_valid(self, staging: Staging) -> None:
        """The class registers as staging; ``schemes`` is a non-empty tuple of lowercase schemes."""
        assert isinstance(staging, Staging)
        _check_plugin_class("staging", Staging, type(staging))
        schemes = type(staging).schemes
        assert isinstance(schemes, tuple) and schemes, (
            f"schemes must be a non-empty tuple: {schemes!r}"
        )
        for scheme in schemes:
            assert isinstance(scheme, str) and _SCHEME_RE.match(scheme), f"bad scheme {scheme!r}"
        assert isinstance(type(staging).is_noop, bool)

    def test_claims_its_schemes_only(self, staging: Staging) -> None:
        """``can_stage_in``/``can_stage_out`` are True for its schemes, False for others."""
        for scheme in staging.schemes:
            file = File(f"{scheme}://example.org/plait/contract.dat")
            assert file.scheme == scheme
            assert staging.can_stage_in(file), f"can_stage_in refuses {file.url}"
            assert staging.can_stage_out(file) is self.stages_out, (
                f"can_stage_out({file.url}) is not {self.stages_out}"
            )
        other = File("plait-contract-unknown://example.org/x.dat")
        assert not staging.can_stage_in(other)
        assert not staging.can_stage_out(other)

    def test_stage_in_makes_file_readable(
        self, staging: Staging, staging_file: File, tmp_path: Path
    ) -> None:
        """After ``stage_in`` the file is readable at ``filepath``; a provider that is not a
        no-op sets ``local_path``."""
        file = staging_file.cleancopy()
        assert staging.can_stage_in(file), f"can_stage_in refuses its own {file.url}"
        staging.stage_in(file, str(_scratch_dir(tmp_path, "contract-work")))
        if not staging.is_noop:
            assert file.local_path is not None, "stage_in did not set local_path"
        with open(file.filepath, "rb") as f:
            f.read()

    def test_stage_out_then_in_round_trips(
        self, staging: Staging, staging_output_file: File, tmp_path: Path
    ) -> None:
        """A file written locally and staged out comes back with the same bytes when staged in."""
        if not self.stages_out:
            pytest.skip("stages_out = False: a read-only provider")
        payload = f"plait staging contract output {uuid.uuid4()}\n".encode()
        produced = staging_output_file.cleancopy()
        assert staging.can_stage_out(produced), f"can_stage_out refuses its own {produced.url}"
        work = _scratch_dir(tmp_path, "contract-work")
        if not staging.is_noop:
            produced.local_path = str(work / (produced.filename or "contract-output"))
        Path(produced.filepath).parent.mkdir(parents=True, exist_ok=True)
        Path(produced.filepath).write_bytes(payload)
        staging.stage_out(produced, str(work))
        fetched = staging_output_file.cleancopy()
        staging.stage_in(fetched, str(_scratch_dir(tmp_path, "contract-work")))
        assert Path(fetched.filepath).read_bytes() == payload

    def test_stages_inputs_under_dataflowkernel(
        self, staging: Staging, staging_file: File, tmp_path: Path
    ) -> None:
        """An app given ``inputs=[staging_file]`` on an executor whose ``storage_access`` is
        this provider reads the staged file."""
        expected_file = staging_file.cleancopy()
        staging.stage_in(expected_file, str(_scratch_dir(tmp_path, "contract-work")))
        expected = Path(expected_file.filepath).read_bytes()
        executor = ThreadPoolExecutor(
            label="contract-staging",
            storage_access=[staging],
            working_dir=str(_scratch_dir(tmp_path, "contract-task-work")),
        )
        reader = plait.python_app(read_inputs)
        kernel = plait.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo")))
        try:
            contents = reader(inputs=[staging_file.cleancopy()]).result(timeout=self.timeout)
        finally:
            kernel.cleanup()
        assert contents == [expected]


# ---------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------

_DATA_VALUES = [
    pytest.param(42, id="int"),
    pytest.param(-(2**100), id="big-int"),
    pytest.param(3.25, id="float"),
    pytest.param(None, id="none"),
    pytest.param(True, id="bool"),
    pytest.param("plait", id="str"),
    pytest.param("", id="empty-str"),
    pytest.param("ünïcødé ✓\n\x00", id="unicode-str"),
    pytest.param([1, "two", 3.0], id="list"),
    pytest.param((1, ("nested",)), id="tuple"),
    pytest.param({"a": 1, "b": "two", 3: None}, id="dict"),
    pytest.param(
        {
            "tasks": [1, (2, 3), {"deps": {4, 5}, "frozen": frozenset({"x"})}],
            "meta": {"ok": [[[]]]},
        },
        id="nested",
    ),
]

_BYTES_VALUES = [
    pytest.param(b"", id="empty"),
    pytest.param(bytes(range(256)), id="all-byte-values"),
    pytest.param(b"\n" * 3 + b"pickle\n", id="newlines"),
    pytest.param(bytes(range(256)) * 4096, id="1MiB"),
]


class SerializerContract:
    """The serializer contract. Subclass it and define the ``serializer`` fixture::

        class TestMySerializer(SerializerContract):
            @pytest.fixture
            def serializer(self):
                return MySerializer()

    Plain data (ints, strings, dicts, nested containers) must round-trip; set
    ``serializes_data = False`` for a serializer made only for functions (its
    ``accepts`` refuses data). Bytes round-trip if ``accepts`` takes them.
    Functions come from the ``function_cases`` fixture, a list of
    ``(function, args, expected_result)``; by default one module-level
    function, skipped if ``accepts`` refuses it. Override it to add the
    lambdas and closures your serializer handles.
    """

    serializes_data: ClassVar[bool] = True

    @pytest.fixture
    def serializer(self) -> Serializer:
        """Placeholder: subclasses return the serializer under test."""
        pytest.fail(f"{type(self).__name__} must define a `serializer` fixture")

    @pytest.fixture
    def function_cases(self) -> list[tuple[Callable[..., Any], tuple[Any, ...], Any]]:
        """``(function, args, expected)`` triples to round-trip: a module-level function."""
        return [(add, (2, 3), 5)]

    def _round_trip(self, serializer: Serializer, value: Any) -> Any:
        data = serializer.serialize(value)
        assert type(data) is bytes, f"serialize returned {type(data).__name__}, not bytes"
        return serializer.deserialize(data)

    def _sample(
        self, serializer: Serializer, cases: list[tuple[Callable[..., Any], tuple[Any, ...], Any]]
    ) -> tuple[Any, Callable[[Any], None]]:
        """A value the serializer takes, and a check that a copy of it is right."""
        if self.serializes_data:
            value = {"numbers": [1, 2, 3], "name": "plait"}

            def same(copy: Any) -> None:
                assert copy == value

            return value, same
        for func, args, expected in cases:
            if serializer.accepts(func):

                def behaves(copy: Any, args: Any = args, expected: Any = expected) -> None:
                    assert copy(*args) == expected

                return func, behaves
        pytest.skip("the serializer accepts neither data nor any of function_cases")

    def test_plugin_name_is_valid(self, serializer: Serializer) -> None:
        """The class registers as a serializer (its name is the wire header, so it must be
        a lowercase identifier)."""
        assert isinstance(serializer, Serializer)
        _check_plugin_class("serializer", Serializer, type(serializer))

    @pytest.mark.parametrize("value", _DATA_VALUES)
    def test_round_trips_data(self, serializer: Serializer, value: Any) -> None:
        """Plain data comes back equal and of the same type (a serializer with
        ``serializes_data = False`` must refuse it in ``accepts`` instead, so
        :func:`~plait.serialize.facade.pack` moves on to the next serializer)."""
        if not self.serializes_data:
            assert not serializer.accepts(value), (
                f"serializes_data = False, but accepts takes {type(value).__name__}"
            )
            return
        assert serializer.accepts(value), f"accepts refuses {type(value).__name__}"
        copy = self._round_trip(serializer, value)
        assert copy == value
        assert type(copy) is type(value)

    @pytest.mark.parametrize("value", _BYTES_VALUES)
    def test_round_trips_bytes(self, serializer: Serializer, value: bytes) -> None:
        """Bytes come back identical, if the serializer accepts them."""
        if not self.serializes_data:
            assert not serializer.accepts(value), "serializes_data = False, but accepts takes bytes"
            return
        if not serializer.accepts(value):
            pytest.skip("accepts refuses bytes")
        copy = self._round_trip(serializer, value)
        assert type(copy) is bytes and copy == value

    def test_round_trips_functions(
        self,
        serializer: Serializer,
        function_cases: list[tuple[Callable[..., Any], tuple[Any, ...], Any]],
    ) -> None:
        """Each accepted function in ``function_cases`` comes back and computes the same result."""
        accepted = [case for case in function_cases if serializer.accepts(case[0])]
        if not accepted:
            pytest.skip("accepts refuses every function in function_cases")
        for func, args, expected in accepted:
            copy = self._round_trip(serializer, func)
            assert callable(copy), f"{func!r} came back as {copy!r}"
            assert copy(*args) == expected, f"{func!r} changed behaviour in a round trip"

    def test_works_through_pack_and_unpack(
        self,
        serializer: Serializer,
        function_cases: list[tuple[Callable[..., Any], tuple[Any, ...], Any]],
    ) -> None:
        """``pack`` names the serializer in the header; ``unpack`` with a mapping containing
        it restores the value, and refuses without it."""
        value, check = self._sample(serializer, function_cases)
        name = serializer.plugin_name
        blob = pack(value, (serializer,))
        assert type(blob) is bytes
        assert blob.startswith(name.encode() + b"\n"), f"header is not {name!r}: {blob[:40]!r}"
        check(unpack(blob, {name: serializer}))
        with pytest.raises(DeserializationError):
            unpack(blob, {})
