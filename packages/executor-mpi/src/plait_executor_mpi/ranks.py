"""``mpi_python_app``: a Python function run on every rank of an MPI task.

::

    @mpi_python_app
    def total(comm, n):
        return comm.allreduce(comm.Get_rank() * n)

    total(2, parsl_resource_specification={"num_nodes": 1, "num_ranks": 4}).result()  # 12

The function's first parameter receives the ranks' ``mpi4py`` communicator
(``MPI.COMM_WORLD``); the future gets rank 0's return value, or every rank's in rank
order with ``all_ranks=True``. On the worker, the task writes the call to a
directory under the manager's log directory (the ranks may be on other nodes), runs
``$PLAIT_MPI_PREFIX python -m plait_executor_mpi.rank DIR`` and reads back what the
ranks wrote (:mod:`plait_executor_mpi.rank`). A rank that raises fails the task with
its own exception (the lowest such rank's, noting which rank) after aborting the
others, so none waits forever in a collective; ranks that die without a result fail it
with :class:`~plait_executor_mpi.errors.RankFailure`, exit status and stderr tail
included. The ranks need ``mpi4py`` (``pip install plait-executor-mpi[mpi4py]``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from plait import python_app
from plait.app.app import PythonApp
from plait.serialize import pack_apply, unpack
from plait_executor_mpi.errors import RankFailure
from plait_executor_mpi.stderr import tail

#: the name of the call file in a task's directory, and of each rank's outcome file
CALL_FILE = "call"


def outcome_file(rank: int) -> str:
    """The file rank ``rank`` writes its outcome to."""
    return f"rank-{rank}"


def _lookup(module: Any, qualname: str) -> Any:
    found = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


class RankRunner:
    """What the worker runs for an ``mpi_python_app``: start the ranks, collect results.

    :param func: the user's function; its first parameter takes the communicator.
    :param all_ranks: return every rank's result (a list), not only rank 0's.
    """

    def __init__(self, func: Callable[..., Any], all_ranks: bool = False) -> None:
        self.func = func
        self.all_ranks = all_ranks
        # what functools.update_wrapper copies onto the app, and messages use
        self.__module__ = func.__module__
        self.__name__: str = getattr(func, "__name__", "app")
        self.__qualname__: str = getattr(func, "__qualname__", self.__name__)
        self.__doc__ = func.__doc__
        signature = inspect.signature(func)
        parameters = list(signature.parameters.values())
        if not parameters or parameters[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise TypeError(
                f"mpi_python_app {func.__name__}: the function's first parameter receives the "
                "MPI communicator; define it as def f(comm, ...)"
            )
        # plait reads special keyword arguments (stdout, walltime, ...) off this signature
        self.__signature__ = signature.replace(parameters=parameters[1:])

    def __reduce__(self) -> tuple[Any, ...]:
        # By reference when the app is importable (its module attribute is the app,
        # which wraps this runner); else by value with the function.
        module, qualname = self.func.__module__, self.func.__qualname__
        if module != "__main__" and "<" not in qualname:
            app = _lookup(sys.modules.get(module), qualname)
            if getattr(app, "__wrapped__", None) is self:
                return (_runner_from_reference, (module, qualname))
        return (RankRunner, (self.func, self.all_ranks))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        prefix = os.environ.get("PLAIT_MPI_PREFIX")
        if not prefix:
            raise RuntimeError(
                f"mpi_python_app {self.__name__} runs only on an MPIExecutor (no "
                "PLAIT_MPI_PREFIX here); give it executors=[the MPIExecutor's label]"
            )
        num_ranks = int(os.environ.get("PLAIT_MPI_NUM_RANKS", "1"))
        scratch = os.environ.get("PLAIT_MPI_SCRATCH") or tempfile.gettempdir()
        os.makedirs(scratch, exist_ok=True)
        workdir = tempfile.mkdtemp(prefix="task-", dir=scratch)
        try:
            with open(os.path.join(workdir, CALL_FILE), "wb") as f:
                f.write(pack_apply(self, args, kwargs, self.__name__))
            command = (
                f"{prefix} {shlex.quote(sys.executable)} -m plait_executor_mpi.rank "
                f"{shlex.quote(workdir)}"
            )
            stderr_path = os.path.join(workdir, "stderr")
            with open(stderr_path, "wb") as stderr:
                returncode = subprocess.run(
                    command, shell=True, executable="/bin/bash", stderr=stderr, check=False
                ).returncode
            with open(stderr_path, "rb") as f:
                written = f.read()
            sys.stderr.buffer.write(written)  # where the ranks' stderr would have gone
            sys.stderr.flush()
            return self._collect(workdir, num_ranks, returncode, written)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _collect(self, workdir: str, num_ranks: int, returncode: int, stderr: bytes) -> Any:
        outcomes: dict[int, tuple[bool, Any]] = {}
        for rank in range(num_ranks):
            try:
                with open(os.path.join(workdir, outcome_file(rank)), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            outcomes[rank] = (data[:1] == b"1", unpack(data[1:]))
        for rank in sorted(outcomes):
            ok, value = outcomes[rank]
            if not ok:
                value.add_note(f"raised on MPI rank {rank} of {num_ranks}")
                raise value
        wanted = range(num_ranks) if self.all_ranks else range(1)
        if returncode != 0 or any(rank not in outcomes for rank in wanted):
            raise RankFailure(self.__name__, returncode, num_ranks, tail(stderr))
        if self.all_ranks:
            return [outcomes[rank][1] for rank in wanted]
        return outcomes[0][1]


def _runner_from_reference(module: str, qualname: str) -> RankRunner:
    app = _lookup(importlib.import_module(module), qualname)
    runner = getattr(app, "__wrapped__", None)
    if not isinstance(runner, RankRunner):
        raise TypeError(f"{module}.{qualname} is not an mpi_python_app here")
    return runner


def mpi_python_app(
    function: Callable[..., Any] | None = None,
    *,
    all_ranks: bool = False,
    data_flow_kernel: Any = None,
    cache: bool = False,
    executors: str | Sequence[str] = "all",
    ignore_for_cache: Sequence[str] | None = None,
) -> Any:
    """Make ``function(comm, ...)`` an app that runs on every rank of an MPI task.

    Usable bare (``@mpi_python_app``) or with options
    (``@mpi_python_app(all_ranks=True)``); the other options are ``python_app``'s.
    """

    def wrap(func: Callable[..., Any]) -> PythonApp:
        decorate = python_app(
            data_flow_kernel=data_flow_kernel,
            cache=cache,
            executors=executors,
            ignore_for_cache=ignore_for_cache,
        )
        return decorate(RankRunner(func, all_ranks))

    return wrap(function) if function is not None else wrap
