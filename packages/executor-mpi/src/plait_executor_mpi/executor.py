"""``mpi``: the MPIExecutor, a HighThroughputExecutor whose managers run MPI tasks.

Everything HTEX does (interchange, blocks, heartbeats, cancel, walltimes) stays;
what changes is what a task is. Each task asks for nodes and ranks in its resource
specification, checked here at submission; one manager per block (on its first
node) tracks the block's nodes and runs several tasks at once on disjoint node
sets (:mod:`plait_executor_mpi.manager`); each task's worker sees the launcher
prefix for its nodes (:mod:`plait_executor_mpi.prefix`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from plait.errors import ConfigError, InvalidResourceSpecification
from plait.jobs.strategy import ExecutorSnapshot
from plait.launchers.simple import SimpleLauncher
from plait.providers.base import ExecutionProvider
from plait.providers.local import LocalProvider
from plait_executor_htex import HighThroughputExecutor
from plait_executor_mpi.errors import MPISetupError
from plait_executor_mpi.implementation import IMPLEMENTATIONS, TASK_LAUNCHERS, MPISetup, resolve
from plait_executor_mpi.resources import EXAMPLE, parse_request


class MPIExecutor(HighThroughputExecutor):
    """Runs MPI applications: each task gets nodes of a block and a launcher prefix.

    Tasks say what they need with ``parsl_resource_specification=`` (or
    ``resource_specification=``): ``{"num_nodes": N, "ranks_per_node": R}`` or
    ``{"num_nodes": N, "num_ranks": M}``, optionally ``"launcher_options"``. A bash
    app runs ``f"$PARSL_MPI_PREFIX ./prog"``; ``mpi_python_app`` runs a Python
    function on every rank.

    :param label: the executor's label.
    :param provider: where blocks come from; its launcher must be ``SimpleLauncher`` (or
        none): one manager per block, on the first node. Default
        ``LocalProvider(launcher=SimpleLauncher())``: a block is this machine.
    :param max_workers_per_block: MPI tasks one block runs at once (each on nodes of
        its own).
    :param mpi_launcher: what starts a task's ranks: ``mpiexec``, ``mpirun``, ``srun``
        or ``aprun``.
    :param mpi_implementation: ``openmpi`` or ``mpich``; None finds out from the
        launcher. With both installed, plain ``mpiexec`` is usually Open MPI's: ask for
        ``mpich`` to get ``mpiexec.mpich``.
    :param check_mpi: at ``start()``, check that the launcher and the MPI library are
        installed on this machine (turn off when only the compute nodes have them;
        then pass ``mpi_implementation``).
    :param address: see :class:`~plait_executor_htex.HighThroughputExecutor`.
    :param worker_port: see HighThroughputExecutor.
    :param worker_port_range: see HighThroughputExecutor.
    :param prefetch_capacity: tasks a manager holds beyond its workers (default 0, so
        tasks wait at the interchange, for whichever block has a worker free, rather
        than in one block's queue).
    :param heartbeat_period: see HighThroughputExecutor.
    :param heartbeat_threshold: see HighThroughputExecutor.
    :param drain_period: see HighThroughputExecutor.
    :param poll_period: see HighThroughputExecutor.
    :param worker_logdir_root: see HighThroughputExecutor.
    :param encrypted: see HighThroughputExecutor.
    :param worker_debug: see HighThroughputExecutor.
    :param max_block_failures: see HighThroughputExecutor.
    """

    plugin_name = "mpi"
    manager_script = "plait-mpi-manager"
    manager_module = "plait_executor_mpi.manager"

    def __init__(
        self,
        label: str = "mpi",
        provider: ExecutionProvider | None = None,
        max_workers_per_block: int = 1,
        mpi_launcher: str = "mpiexec",
        mpi_implementation: str | None = None,
        check_mpi: bool = True,
        address: str = "127.0.0.1",
        worker_port: int | None = None,
        worker_port_range: tuple[int, int] = (54000, 55000),
        prefetch_capacity: int = 0,
        heartbeat_period: float = 30.0,
        heartbeat_threshold: float = 120.0,
        drain_period: float | None = None,
        poll_period: int = 10,
        worker_logdir_root: str | None = None,
        encrypted: bool = False,
        worker_debug: bool = False,
        max_block_failures: int = 3,
    ) -> None:
        if provider is None:
            provider = LocalProvider(launcher=SimpleLauncher())
        if provider.launcher is not None and not isinstance(provider.launcher, SimpleLauncher):
            raise ConfigError(
                "provider.launcher",
                provider.launcher,
                "SimpleLauncher()",
                "the MPIExecutor runs one manager per block, on its first node, and starts "
                "each task's ranks itself with mpi_launcher",
            )
        if mpi_launcher not in TASK_LAUNCHERS:
            raise ConfigError("mpi_launcher", mpi_launcher, TASK_LAUNCHERS)
        if mpi_implementation is not None and mpi_implementation not in IMPLEMENTATIONS:
            raise ConfigError("mpi_implementation", mpi_implementation, [*IMPLEMENTATIONS, "None"])
        if isinstance(max_workers_per_block, bool) or not (
            isinstance(max_workers_per_block, int) and max_workers_per_block >= 1
        ):
            raise ConfigError("max_workers_per_block", max_workers_per_block, "an integer >= 1")
        super().__init__(
            label=label,
            provider=provider,
            address=address,
            worker_port=worker_port,
            worker_port_range=worker_port_range,
            max_workers_per_node=max_workers_per_block,
            prefetch_capacity=prefetch_capacity,
            heartbeat_period=heartbeat_period,
            heartbeat_threshold=heartbeat_threshold,
            drain_period=drain_period,
            poll_period=poll_period,
            worker_logdir_root=worker_logdir_root,
            encrypted=encrypted,
            worker_debug=worker_debug,
            max_block_failures=max_block_failures,
        )
        self.max_workers_per_block = max_workers_per_block
        self.mpi_launcher = mpi_launcher
        self.mpi_implementation = mpi_implementation
        self.check_mpi = check_mpi
        self.setup: MPISetup | None = None

    # -- sizing ------------------------------------------------------------

    @property
    def workers_per_node(self) -> int:
        """Workers the block's one manager starts: one per MPI task it runs at once."""
        return self.max_workers_per_block

    @property
    def block_nodes(self) -> int:
        """Nodes in one block: a LocalProvider block is this one machine."""
        if isinstance(self.provider, LocalProvider):
            return 1
        return max(1, self.provider.nodes_per_block)

    def _describe_block(self) -> str:
        if isinstance(self.provider, LocalProvider):
            return "a LocalProvider block is this one machine"
        return f"{type(self.provider).__name__} nodes_per_block={self.provider.nodes_per_block}"

    def snapshot(self) -> ExecutorSnapshot:
        """As HTEX's, but a block runs ``max_workers_per_block`` tasks, however many nodes
        it has."""
        return dataclasses.replace(super().snapshot(), slots_per_block=self.max_workers_per_block)

    # -- start -------------------------------------------------------------

    def start(self) -> None:
        """Find the launcher and its MPI (failing here, before anything starts, if they
        are missing), then start as HTEX does."""
        if self.check_mpi:
            try:
                self.setup = resolve(self.mpi_launcher, self.mpi_implementation)
            except LookupError as exc:
                raise MPISetupError(self, str(exc)) from None
        else:
            self.setup = MPISetup(self.mpi_launcher, self.mpi_launcher, self.mpi_implementation)
        super().start()

    def manager_options(self) -> list[str]:
        """The resolved launcher, for the managers to compose task prefixes with."""
        assert self.setup is not None
        return [
            f"--mpi-launcher {self.setup.launcher}",
            f"--mpi-program {self.setup.program}",
            f"--mpi-implementation {self.setup.implementation or 'unknown'}",
        ]

    # -- tasks -------------------------------------------------------------

    def submit(
        self,
        func: Callable[..., Any],
        resource_specification: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Future[Any]:
        """Check the task's MPI request (see :mod:`plait_executor_mpi.resources`), then
        queue it as HTEX does.

        :raises InvalidResourceSpecification: naming the keys and numbers at fault.
        """
        if not resource_specification:
            raise InvalidResourceSpecification(
                {"num_nodes"},
                f"MPI executor {self.label!r}: every task needs a resource specification "
                f"with num_nodes, and num_ranks or ranks_per_node, e.g. {EXAMPLE}",
            )
        return super().submit(func, resource_specification, *args, **kwargs)

    def monitor_resources(self) -> bool:
        """Not yet: an MPI task's ranks run on several nodes, and its worker only waits
        for the launcher, so a worker's own samples would say little."""
        return False

    def task_resources(self, resource_specification: dict[str, Any]) -> tuple[int, Any]:
        """The task's priority, and its MPI request (plus walltime) for the manager."""
        request = parse_request(
            resource_specification, self.block_nodes, self._describe_block(), self.label
        )
        priority = int(resource_specification.get("priority", 0))
        return priority, {
            "mpi": request.wire(),
            "walltime": resource_specification.get("walltime"),
        }
