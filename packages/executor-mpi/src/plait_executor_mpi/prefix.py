"""The launcher prefix and environment each MPI task runs with.

A bash app writes ``f"$PLAIT_MPI_PREFIX ./prog"`` (or Parsl's ``$PARSL_MPI_PREFIX``)
and gets its ranks on the nodes its manager gave it. The prefix is built for the MPI
actually installed:

* Open MPI: ``mpiexec -n M --host h1:R,h2:R`` (slots per host, so no
  ``--oversubscribe`` is needed for R above the cores), plus
  ``--allow-run-as-root`` when the manager runs as root, which Open MPI otherwise
  refuses;
* MPICH (and Intel MPI): ``mpiexec -n M -ppn R -hosts h1,h2``;
* ``srun --nodes=N --ntasks=M --ntasks-per-node=R --nodelist=h1,h2
  --kill-on-bad-exit=1`` with ``--mpi=pmix`` (Open MPI) or ``--mpi=pmi2`` (MPICH);
* ``aprun -n M -N R -node-list h1,h2``.
"""

from __future__ import annotations

import shlex

from plait_executor_mpi.implementation import OPENMPI, SRUN_MPI, MPISetup
from plait_executor_mpi.resources import MPIRequest

#: the Parsl variable that also holds the prefix, by launcher
PARSL_PREFIX_VARIABLE = {
    "mpiexec": "PARSL_MPIEXEC_PREFIX",
    "mpirun": "PARSL_MPIEXEC_PREFIX",
    "srun": "PARSL_SRUN_PREFIX",
    "aprun": "PARSL_APRUN_PREFIX",
}


def compose(setup: MPISetup, request: MPIRequest, nodes: list[str], as_root: bool) -> str:
    """The command prefix that starts ``request``'s ranks on ``nodes``."""
    ranks, per_node = str(request.num_ranks), str(request.ranks_per_node)
    hosts = ",".join(nodes)
    if setup.launcher == "srun":
        args = [
            "srun",
            f"--nodes={len(nodes)}",
            f"--ntasks={ranks}",
            f"--ntasks-per-node={per_node}",
            f"--nodelist={hosts}",
            "--kill-on-bad-exit=1",
        ]
        if setup.implementation in SRUN_MPI:
            args.append(f"--mpi={SRUN_MPI[setup.implementation]}")
    elif setup.launcher == "aprun":
        args = ["aprun", "-n", ranks, "-N", per_node, "-node-list", hosts]
    elif setup.implementation == OPENMPI:
        args = [setup.program, "-n", ranks, "--host", ",".join(f"{n}:{per_node}" for n in nodes)]
        if as_root:
            args.append("--allow-run-as-root")
    else:  # MPICH's hydra, and the MPICH-style default
        args = [setup.program, "-n", ranks, "-ppn", per_node, "-hosts", hosts]
    prefix = " ".join(shlex.quote(a) for a in args)
    return f"{prefix} {request.launcher_options}" if request.launcher_options else prefix


def task_environment(
    setup: MPISetup, request: MPIRequest, nodes: list[str], as_root: bool
) -> dict[str, str]:
    """The variables a task on ``nodes`` sees, under plait's names and Parsl's."""
    prefix = compose(setup, request, nodes, as_root)
    nodelist = ",".join(nodes)
    values = {
        "MPI_PREFIX": prefix,
        "NUM_NODES": str(request.num_nodes),
        "RANKS_PER_NODE": str(request.ranks_per_node),
        "MPI_NODELIST": nodelist,
    }
    env = {f"PLAIT_{k}": v for k, v in values.items()}
    env.update({f"PARSL_{k}": v for k, v in values.items()})
    env["PLAIT_MPI_NUM_RANKS"] = env["PARSL_NUM_RANKS"] = str(request.num_ranks)
    env[PARSL_PREFIX_VARIABLE[setup.launcher]] = prefix
    return env
