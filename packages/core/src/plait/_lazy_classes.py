"""Resolving Parsl class names (``HighThroughputExecutor``) to whichever plugin provides them."""

from __future__ import annotations

from typing import Any

#: Parsl class name -> (registry kind, plugin name) for the plugins plait plans to ship.
KNOWN_CLASSES: dict[str, tuple[str, str]] = {
    "HighThroughputExecutor": ("executor", "htex"),
    "MPIExecutor": ("executor", "mpi"),
    "WorkQueueExecutor": ("executor", "workqueue"),
    "TaskVineExecutor": ("executor", "taskvine"),
    "RadicalPilotExecutor": ("executor", "radical"),
    "FluxExecutor": ("executor", "flux"),
    "SlurmProvider": ("provider", "slurm"),
    "KubernetesProvider": ("provider", "kubernetes"),
    "SrunLauncher": ("launcher", "srun"),
    "SrunMPILauncher": ("launcher", "srun-mpi"),
    "MpiExecLauncher": ("launcher", "mpiexec"),
    "MpiRunLauncher": ("launcher", "mpirun"),
    "AprunLauncher": ("launcher", "aprun"),
    "JsrunLauncher": ("launcher", "jsrun"),
    "MonitoringHub": ("monitoring", "monitoring"),
}


def resolve(kind: str, name: str, module: str) -> Any:
    """The registered ``kind`` class called ``name``, for a module ``__getattr__``.

    :raises AttributeError: for private names (so ``hasattr`` probes stay cheap).
    :raises ImportError: no installed plugin provides ``name``; says what to install.
    """
    if name.startswith("_"):
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    from plait.plugins import get_plugins
    from plait.plugins.errors import distribution_name, install_hint

    plugins = get_plugins()
    cls = plugins.find_class(kind, name)
    if cls is not None:
        return cls
    known = KNOWN_CLASSES.get(name)
    if known is not None:
        kind, plugin = known
        error = plugins.load_errors.get(plugin)
        if error is not None:
            raise ImportError(f"cannot import {name} from {module}: {error}") from error
        raise ImportError(
            f"cannot import {name} from {module}: it is provided by the plugin package "
            f"{distribution_name(kind, plugin)}, which is not installed. Install it with "
            f"`{install_hint(kind, plugin)}`"
        )
    raise ImportError(
        f"cannot import {name} from {module}: no installed plugin provides a {kind} class "
        f"named {name}; `plait plugins` lists what is installed"
    )
