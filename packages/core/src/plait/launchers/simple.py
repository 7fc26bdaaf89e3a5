"""Launchers that need no parallel launcher program: simple, single-node, wrapped."""

from __future__ import annotations

from plait.launchers.base import Launcher


class SimpleLauncher(Launcher):
    """Runs the command once, as is (the command starts its own workers)."""

    plugin_name = "simple"

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """``command`` unchanged."""
        return command


class SingleNodeLauncher(Launcher):
    """Starts ``tasks_per_node`` copies of the command on the current node and waits for all.

    Each copy sees ``PLAIT_WORKER_RANK`` (and Parsl's ``PARSL_WORKER_RANK``) and the
    block's exit status is the first non-zero status of any copy.
    """

    plugin_name = "single-node"

    def __init__(self, debug: bool = True, fail_on_any: bool = False) -> None:
        super().__init__(debug)
        self.fail_on_any = fail_on_any

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """A bash snippet that forks the copies and collects their exit codes."""
        trace = "set -x\n" if self.debug else ""
        copies = tasks_per_node * nodes_per_block
        return (
            f"{trace}export CORES=$(getconf _NPROCESSORS_ONLN)\n"
            f"pids=()\n"
            f"for rank in $(seq 0 {copies - 1}); do\n"
            f"  PLAIT_WORKER_RANK=$rank PARSL_WORKER_RANK=$rank {command} &\n"
            f"  pids+=($!)\n"
            f"done\n"
            f"status=0\n"
            f'for pid in "${{pids[@]}}"; do\n'
            f"  wait $pid || {{ rc=$?; [ $status -eq 0 ] && status=$rc; }}\n"
            f"done\n"
            f"exit $status\n"
        )


class WrappedLauncher(Launcher):
    """Puts a fixed prefix in front of the command (``time``, ``apptainer exec img``)."""

    plugin_name = "wrapped"

    def __init__(self, prepend: str = "", debug: bool = True) -> None:
        super().__init__(debug)
        self.prepend = prepend

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """``prepend command``."""
        return f"{self.prepend} {command}".strip()
