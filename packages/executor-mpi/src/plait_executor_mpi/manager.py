"""The MPI manager (``plait-mpi-manager``): an HTEX manager that packs MPI tasks.

One runs per block, on the block's first node (the provider's ``SimpleLauncher``).
It finds the block's nodes (:mod:`plait_executor_mpi.nodes`) and hands a queued task
to an idle worker as soon as as many nodes as the task asks for are free, in arrival
order but never holding a task back behind one that waits for more nodes: tasks run
at once on disjoint node sets, and a task waits only while the nodes it needs are
busy. The worker gets the task's launcher prefix and variables with it
(:mod:`plait_executor_mpi.prefix`). The nodes are freed when the task ends however it
ends (result, failure, cancel, walltime, lost worker).

Everything else (registration, heartbeats, cancel, walltimes, replacing dead workers)
is the HTEX manager's.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import sys
import time
from typing import Any

from plait.serialize import pack
from plait_executor_htex import protocol
from plait_executor_htex.manager import Manager, build_parser, serve
from plait_executor_mpi.errors import NotEnoughNodes
from plait_executor_mpi.implementation import IMPLEMENTATIONS, MPISetup, abi_environment
from plait_executor_mpi.nodes import NodePool, block_nodes
from plait_executor_mpi.prefix import task_environment
from plait_executor_mpi.resources import MPIRequest

logger = logging.getLogger("plait_executor_mpi.manager")


class MPIManager(Manager):
    """The HTEX manager with a node pool and node-aware dispatch."""

    worker_module = "plait_executor_mpi.worker"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        nodes, self.node_source = block_nodes(os.environ, self.hostname)
        self.pool = NodePool(nodes)
        implementation = args.mpi_implementation
        self.setup = MPISetup(
            args.mpi_launcher,
            args.mpi_program,
            implementation if implementation in IMPLEMENTATIONS else None,
        )
        self.as_root = os.geteuid() == 0
        logdir = args.logdir or os.getcwd()
        #: what every task's environment has: the mpi4py ABI, and where
        #: mpi_python_app keeps its per-task files (shared with the other nodes)
        self.common_env = abi_environment(self.setup.implementation, os.path.join(logdir, "abi"))
        self.common_env["PLAIT_MPI_SCRATCH"] = os.path.join(logdir, "ranks")
        self.requests: dict[int, MPIRequest] = {}
        self.allocations: dict[int, list[str]] = {}
        logger.info(
            "block %s: %d node(s) from %s: %s; launcher %s (%s)",
            self.block_id,
            self.pool.total,
            self.node_source,
            ",".join(self.pool.nodes),
            self.setup.program,
            self.setup.implementation or "unknown MPI",
        )

    def take_resources(self, task_id: int, resources: dict[str, Any]) -> None:
        """The walltime (as HTEX) and the task's MPI request."""
        super().take_resources(task_id, resources)
        wire = resources.get("mpi")
        if wire is not None:
            self.requests[task_id] = MPIRequest(*wire)

    def dispatch(self) -> None:
        """Start every queued task that an idle worker and enough free nodes allow, in
        arrival order (first fit); the others stay queued, in order."""
        if not self.queue:
            return
        idle = [w for w in self.workers.values() if w.ready and not w.assigned]
        if not idle:
            return
        waiting: collections.deque[tuple[int, Any]] = collections.deque()
        for task_id, payload in self.queue:
            request = self.requests.get(task_id)
            if request is None or request.num_nodes > self.pool.total:
                self.fail_unrunnable(task_id, request)
                continue
            nodes = self.pool.take(request.num_nodes) if idle else None
            if nodes is None:
                waiting.append((task_id, payload))
                continue
            worker = idle.pop()
            self.allocations[task_id] = nodes
            worker.assigned.append(task_id)
            worker.head_started = time.monotonic()
            self.payloads[task_id] = payload
            env = task_environment(self.setup, request, nodes, self.as_root)
            env.update(self.common_env)
            frames = protocol.batch(protocol.TASK, [(task_id, env)], [payload])
            self.workers_sock.send_multipart([worker.identity, *frames], copy=False)
        self.queue = waiting

    def fail_unrunnable(self, task_id: int, request: MPIRequest | None) -> None:
        """Fail a task this block can never run, rather than keep it queued forever."""
        self.walltimes.pop(task_id, None)
        self.requests.pop(task_id, None)
        if request is None:
            error: Exception = ValueError(
                f"task {task_id} reached MPI manager of block {self.block_id} without an MPI "
                "request; submit it through an MPIExecutor"
            )
        else:
            error = NotEnoughNodes(request.num_nodes, self.pool.nodes, self.node_source)
        self.report_untimed(task_id, protocol.RESULT_ERR, pack(error))

    def release_finished(self) -> None:
        """Free the nodes of tasks no worker holds any more (finished, failed, cancelled,
        timed out or lost with their worker)."""
        if not self.allocations:
            return
        held = {t for w in self.workers.values() for t in w.assigned}
        for task_id in [t for t in self.allocations if t not in held]:
            self.pool.give_back(self.allocations.pop(task_id))
            self.requests.pop(task_id, None)

    def on_worker(self, frames: list[Any]) -> None:
        super().on_worker(frames)
        self.release_finished()

    def check_workers(self) -> None:
        super().check_workers()
        self.release_finished()

    def cancel(self, task_ids: list[int]) -> None:
        """As HTEX; a cancelled task that never started forgets its request."""
        super().cancel(task_ids)
        for task_id in task_ids:
            if task_id not in self.allocations:
                self.requests.pop(task_id, None)


def build_mpi_parser() -> argparse.ArgumentParser:
    """The HTEX manager's options plus the MPI launcher the executor resolved."""
    parser = build_parser("plait-mpi-manager", __doc__.splitlines()[0])
    parser.add_argument("--mpi-launcher", required=True, help="mpiexec, mpirun, srun or aprun")
    parser.add_argument("--mpi-program", required=True, help="the launcher program to run")
    parser.add_argument("--mpi-implementation", default="unknown", help="openmpi, mpich or unknown")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run an MPI manager until the interchange stops it or goes silent."""
    return serve(MPIManager, build_mpi_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
