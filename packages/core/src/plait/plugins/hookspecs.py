"""Every plait hook, in one module, grouped by phase.

Plugins implement these with :data:`plait.hookimpl`; a hook that is misspelled
is refused when the plugin loads (its load error names the unknown hook).

**Where hooks run.** Every hook runs in the *submitting process* (the one that
called :func:`plait.load`). Workers, managers and interchanges never scan entry
points and never call hooks: anything they need (a serializer, a launcher
command, a staging object) is created on the submitting side and shipped to them
explicitly.

**Load order.** Core's built-in plugin first, then the entry points of the
``plait`` group, minus names in ``PLAIT_DISABLE_PLUGINS``; if ``PLAIT_PLUGINS`` is
set only the entry points it lists are loaded (``PLAIT_PLUGINS=`` loads none).

Sections:

1. Registration: called lazily, once per kind, the first time a name of that
   kind is looked up. Each receives a registry and calls ``registry.add(cls)``;
   the class's ``plugin_name`` attribute is the name users select it by.
2. Observers: called as things happen, never on the hot path when no plugin
   implements them. Each receives one frozen event object (fields are only ever
   added), must not block, and must not raise: an exception is logged with the
   plugin's name and swallowed, so a broken observer cannot break a workflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.plugins import hookspec

if TYPE_CHECKING:
    from plait.benchmarks import Benchmark
    from plait.cli import Command
    from plait.data_provider.staging import Staging
    from plait.events import (
        BlockStateChanged,
        NodeChanged,
        ResourceSample,
        TaskStateChanged,
        WorkflowFinished,
        WorkflowStarted,
    )
    from plait.executors.base import Executor
    from plait.launchers.base import Launcher
    from plait.monitoring import Monitor
    from plait.plugins.registry import Registry, SiteConfigRegistry
    from plait.providers.base import ExecutionProvider
    from plait.serialize.base import Serializer


# ---------------------------------------------------------------------------
# 1. Registration
# ---------------------------------------------------------------------------


@hookspec
def plait_register_executors(registry: Registry[Executor]) -> None:
    """Register executor classes (subclasses of :class:`plait.executors.base.Executor`).

    Called once, the first time an executor name is looked up (``Config.from_dict``,
    ``from plait.executors import X``, ``plait plugins``, ``plait perf --executor``).
    Runs in: the submitting process.

    :param registry: call ``registry.add(MyExecutor)``; ``MyExecutor.plugin_name``
        (e.g. ``"htex"``) is the name users select it by.

    Example::

        @plait.hookimpl
        def plait_register_executors(registry):
            registry.add(MyExecutor)
    """


@hookspec
def plait_register_providers(registry: Registry[ExecutionProvider]) -> None:
    """Register execution provider classes (subclasses of
    :class:`plait.providers.base.ExecutionProvider`), e.g. ``slurm``, ``kubernetes``.

    Called once, the first time a provider name is looked up. Runs in: the
    submitting process.

    :param registry: call ``registry.add(MyProvider)``.
    """


@hookspec
def plait_register_launchers(registry: Registry[Launcher]) -> None:
    """Register launcher classes (subclasses of :class:`plait.launchers.base.Launcher`),
    e.g. ``srun``, ``mpiexec``.

    Called once, the first time a launcher name is looked up. Runs in: the
    submitting process (launcher *objects* are shipped inside job scripts as the
    command line they produce; workers never load launcher plugins).

    :param registry: call ``registry.add(MyLauncher)``.
    """


@hookspec
def plait_register_staging(registry: Registry[Staging]) -> None:
    """Register staging providers (subclasses of :class:`plait.data_provider.staging.Staging`).

    A staging class names the URL schemes it handles in ``schemes``; the first
    registered provider for a scheme wins unless an executor's
    ``storage_access`` lists providers explicitly. Called once, the first time a
    staging provider is looked up. Runs in: the submitting process.

    :param registry: call ``registry.add(MyStaging)``.
    """


@hookspec
def plait_register_serializers(registry: Registry[Serializer]) -> None:
    """Register serializers (subclasses of :class:`plait.serialize.base.Serializer`).

    The wire header of every payload names its serializer by ``plugin_name``;
    deserialization dispatches only to registered serializers, so a payload can
    never make the receiver import a module it names. Executors that ship
    payloads to workers pass the serializer classes they use to the workers
    explicitly. Called once, the first time a serializer is looked up. Runs in:
    the submitting process.

    :param registry: call ``registry.add(MySerializer)``.
    """


@hookspec
def plait_register_site_configs(registry: SiteConfigRegistry) -> None:
    """Register named site configurations, as an HPC centre's site package does.

    Users get them with :func:`plait.site_config` (``plait.site_config("perlmutter-cpu",
    account="m1234")``) or ``Config.from_dict({"site": "perlmutter-cpu", ...})``.
    Called once, the first time a site configuration is looked up. Runs in: the
    submitting process.

    :param registry: call ``registry.add_site(name, factory, description)``;
        ``factory(**options)`` returns a fresh :class:`plait.config.Config`.
    """


@hookspec
def plait_register_monitoring(registry: Registry[Monitor]) -> None:
    """Register monitoring hubs (subclasses of :class:`plait.monitoring.Monitor`).

    A hub is what users pass as ``Config(monitoring=...)``; the kernel starts it,
    registers it as a plugin for the life of its run (so its observer hooks below
    see that run's events) and closes it. Registering the class makes it
    selectable by name in declarative configs (``[monitoring]`` with
    ``type = "monitoring"``) and importable as ``from plait.monitoring import
    MonitoringHub``. Called once, the first time a monitoring name is looked up.
    Runs in: the submitting process.

    :param registry: call ``registry.add(MyHub)``.
    """


@hookspec
def plait_register_commands(registry: Registry[Command]) -> None:
    """Register ``plait`` subcommands (subclasses of :class:`plait.cli.Command`).

    ``MyCommand.plugin_name`` is the subcommand's name (``plait monitoring ...``);
    the command adds its own arguments to its argparse parser and runs with the
    parsed arguments. Core's own commands (``version``, ``plugins``, ``perf``)
    always win a clash, so a broken plugin can never hide ``plait plugins``.
    Called once, when the ``plait`` command builds its parser. Runs in: the
    submitting process, here the one running the ``plait`` command (hooks never
    run on workers).

    :param registry: call ``registry.add(MyCommand)``.
    """


@hookspec
def plait_register_benchmarks(registry: Registry[Benchmark]) -> None:
    """Register ``plait perf`` benchmarks (subclasses of :class:`plait.benchmarks.Benchmark`).

    ``MyBenchmark.plugin_name`` is what ``plait perf --only NAME`` runs; its ``run``
    measures one capability of the plugin and returns figures by name, printed and
    written to ``--json`` beside core's. Called once, the first time ``plait perf``
    looks a benchmark up. Runs in: the submitting process, here the one running
    ``plait perf``.

    :param registry: call ``registry.add(MyBenchmark)``.
    """


# ---------------------------------------------------------------------------
# 2. Observers
# ---------------------------------------------------------------------------


@hookspec
def plait_workflow_started(event: WorkflowStarted) -> None:
    """A DataFlowKernel has started (after its executors started).

    Called once per :func:`plait.load`, from the thread that called it. Runs in:
    the submitting process.

    :param event: run id, run directory, executor labels, start time and the Config.
    """


@hookspec
def plait_workflow_finished(event: WorkflowFinished) -> None:
    """A DataFlowKernel has cleaned up (its executors are shut down).

    Called once per DataFlowKernel, from the thread that called ``cleanup()``
    (or left the ``with`` block). Runs in: the submitting process.

    :param event: run id, end time, and the final count of tasks in each state.
    """


@hookspec
def plait_task_state_changed(event: TaskStateChanged) -> None:
    """A task moved to a new state (pending, launched, running, exec_done, failed, ...).

    Called for every transition of every task, from whichever plait thread made
    the transition (the submitting thread, an executor's completion thread), so it
    must be fast and thread-safe. Not called at all, and no event object is built,
    when no plugin implements this hook. Runs in: the submitting process.

    A monitor that records every transition of a busy workflow should take them
    from a task journal instead (``DataFlowKernel.task_journal()``, see
    :mod:`plait.journal`): it costs the workflow a fraction of a hook call.

    :param event: task id, function name, new state, try number, executor label
        and timings (time invoked, try launched, running and returned).
    """


@hookspec
def plait_block_state_changed(event: BlockStateChanged) -> None:
    """A block (a batch job of a provider) changed state.

    Called by block-scaling executors when a block is submitted, starts running,
    finishes, fails or is cancelled; only on change, never once per poll. Runs
    in: the submitting process.

    :param event: executor label, block id, job id, new state and message.
    """


@hookspec
def plait_resource_sampled(event: ResourceSample) -> None:
    """A running try's resource use was sampled (CPU time, memory, disk I/O).

    Executors sample only while a monitor asks for it
    (:meth:`plait.monitoring.Monitor.resource_interval`), every that many seconds
    per running try; an HTEX worker samples itself and the sample travels back
    over the executor's result channel. Called from the executor's thread that
    received it, so it must be fast and thread-safe. Runs in: the submitting
    process.

    :param event: run, task and try ids, executor label, time, interval and the
        sampled values.
    """


@hookspec
def plait_node_changed(event: NodeChanged) -> None:
    """A node joined a block-scaling executor (its manager registered) or left it.

    Called by executors whose blocks run managers on nodes (HTEX), once when a
    manager registers and once when it leaves or is lost. Runs in: the
    submitting process.

    :param event: hostname, manager id, block id, cores, memory, workers,
        Python version, whether it is active now, and the time.
    """
