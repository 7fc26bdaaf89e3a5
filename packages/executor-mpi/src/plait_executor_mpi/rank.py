"""One rank of an ``mpi_python_app`` task: ``python -m plait_executor_mpi.rank DIR``.

Started on every rank by the task's MPI launcher (see :mod:`plait_executor_mpi.ranks`).
It reads the call from ``DIR``, runs the function with ``MPI.COMM_WORLD`` as its first
argument, and writes its outcome, the value or the exception, to
``DIR/rank-N`` (rank 0 always; every rank for ``all_ranks``; any rank that raises).
A rank that raised then aborts the whole job, so the other ranks cannot wait forever
in a collective.
"""

from __future__ import annotations

import os
import sys

from plait.errors import SerializationError
from plait.serialize import pack, unpack_apply


def write_outcome(workdir: str, rank: int, ok: bool, value: object) -> None:
    """Write one rank's outcome atomically: ``b"1"`` and the packed value, or ``b"0"`` and
    the packed exception (described by a RemoteError if it cannot be packed itself)."""
    from plait_executor_htex.worker import pack_exception
    from plait_executor_mpi.ranks import outcome_file

    if not ok:
        assert isinstance(value, BaseException)
        data = b"0" + pack_exception(value)
    else:
        try:
            data = b"1" + pack(value)
        except SerializationError as exc:
            error = SerializationError(f"the result of MPI rank {rank}", exc.reason)
            data = b"0" + pack_exception(error)
    path = os.path.join(workdir, outcome_file(rank))
    with open(f"{path}.tmp", "wb") as f:
        f.write(data)
    os.replace(f"{path}.tmp", path)


def main(argv: list[str] | None = None) -> int:
    """Run this rank's share of the call in ``argv[0]``."""
    workdir = (sys.argv[1:] if argv is None else argv)[0]
    try:
        from mpi4py import MPI
    except ImportError as exc:
        print(
            f"plait MPI rank: cannot import mpi4py ({exc}); install it where the ranks run: "
            "pip install 'plait-executor-mpi[mpi4py]'",
            file=sys.stderr,
        )
        return 1
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    from plait_executor_mpi.ranks import CALL_FILE, RankRunner

    with open(os.path.join(workdir, CALL_FILE), "rb") as f:
        runner, args, kwargs = unpack_apply(f.read())
    assert isinstance(runner, RankRunner)
    try:
        value = runner.func(comm, *args, **kwargs)
    except BaseException as exc:
        write_outcome(workdir, rank, False, exc)
        sys.stderr.flush()
        comm.Abort(1)  # ends every rank: none waits forever in a collective
    if rank == 0 or runner.all_ranks:
        write_outcome(workdir, rank, True, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
