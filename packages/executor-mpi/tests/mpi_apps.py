"""Apps the MPI tests run on MPIExecutor workers (imported by name, from PYTHONPATH)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import plait
from plait_executor_mpi import mpi_python_app

HELLO = Path(__file__).resolve().parent / "mpi_hello.py"


@plait.bash_app
def hello(out: str, mode: str = "") -> str:
    """The mpi4py hello on the task's ranks, its lines to ``out``."""
    return f"$PARSL_MPI_PREFIX {sys.executable} {HELLO} {mode} > {out}"


@plait.python_app
def environment() -> dict[str, str]:
    """The task's PLAIT_* and PARSL_* variables."""
    return {k: v for k, v in os.environ.items() if k.startswith(("PLAIT_", "PARSL_"))}


@plait.python_app
def meet(mine: str, other: str, timeout: float = 60.0) -> str:
    """Leave file ``mine``, then wait for ``other``: two of these finish only if they run
    at the same time. Returns this task's node list."""
    Path(mine).write_text(os.environ["PLAIT_MPI_NODELIST"])
    deadline = time.monotonic() + timeout
    while not Path(other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never appeared: the tasks did not run together")
        time.sleep(0.02)
    return os.environ["PLAIT_MPI_NODELIST"]


@plait.python_app
def nodelist_after(path: str) -> str:
    """The task's node list, once ``path`` exists (a task that holds its nodes until then)."""
    deadline = time.monotonic() + 60
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return os.environ["PLAIT_MPI_NODELIST"]


@mpi_python_app
def rank_sum(comm, scale: int) -> int:
    """Sum of rank * scale over the ranks (every rank takes part)."""
    return int(comm.allreduce(comm.Get_rank() * scale))


@mpi_python_app(all_ranks=True)
def rank_info(comm) -> tuple[int, int, str]:
    """Each rank's (rank, size, node)."""
    import socket

    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return comm.Get_rank(), comm.Get_size(), node


class RankError(Exception):
    """Raised by a chosen rank."""


@mpi_python_app
def raise_on(comm, rank: int) -> int:
    """Rank ``rank`` raises while the others wait in a barrier (which Abort ends)."""
    if comm.Get_rank() == rank:
        raise RankError(f"rank {rank} says no")
    comm.Barrier()
    return 0


@mpi_python_app
def crash_on(comm, rank: int) -> int:
    """Rank ``rank`` dies without a word to MPI, after a line on stderr."""
    if comm.Get_rank() == rank:
        print(f"rank {rank} crashing now", file=sys.stderr, flush=True)
        os._exit(9)
    return 0


@mpi_python_app(all_ranks=True)
def meet_ranks(comm, mine: str, other: str) -> str:
    """Real ranks of two tasks meeting: rank 0 leaves ``mine`` and waits for ``other``
    (the others wait in a barrier). Returns each rank's node."""
    if comm.Get_rank() == 0:
        Path(mine).write_text("here")
        deadline = time.monotonic() + 60
        while not Path(other).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{other} never appeared: the tasks did not run together")
            time.sleep(0.02)
    comm.Barrier()
    return os.environ.get("SLURMD_NODENAME", "?")


@plait.bash_app
def ranks_sleep(started: str) -> str:
    """Ranks that report in, then sleep (as ``plait-mpi-test-sleep``) until killed."""
    return (
        f"$PARSL_MPI_PREFIX /bin/bash -c "
        f"'touch {started}.$$; exec -a plait-mpi-test-sleep sleep 300'"
    )
