"""The thread that polls block executors and applies the scaling strategy.

One per DataFlowKernel, started only if the config has a block-provider
executor. Every ``strategy_period`` seconds (or at once when an executor asks,
e.g. a task arrived and it has no live block) it refreshes block states, takes
a snapshot, asks :func:`plait.jobs.strategy.decide` and carries the decision out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from plait.executors.blocks import BlockProviderExecutor
from plait.jobs.strategy import decide

logger = logging.getLogger(__name__)


class BlockPoller:
    """Runs the scaling loop for ``executors``.

    :param strategy: ``none``, ``simple`` or ``htex_auto_scale``.
    :param period: seconds between rounds.
    :param max_idletime: seconds a block may be idle before it is scaled in.
    """

    def __init__(
        self,
        executors: Sequence[BlockProviderExecutor],
        strategy: str,
        period: float,
        max_idletime: float,
    ) -> None:
        self.executors = list(executors)
        self.strategy = strategy
        self.period = period
        self.max_idletime = max_idletime
        self._wake = threading.Event()
        self._stop = threading.Event()
        for executor in self.executors:
            executor.poke = self._wake.set
        self._thread = threading.Thread(target=self._run, name="plait-block-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.period)
            self._wake.clear()
            if self._stop.is_set():
                return
            for executor in self.executors:
                try:
                    self.round(executor)
                except Exception:
                    logger.exception("scaling round for executor %s failed", executor.label)

    def round(self, executor: BlockProviderExecutor, force_poll: bool = False) -> None:
        """One poll-decide-apply round for ``executor``."""
        if executor.bad_state_message is not None:
            return
        executor.poll(force=force_poll)
        decision = decide(self.strategy, executor.snapshot(), self.max_idletime)
        if decision.scale_in:
            executor.scale_in(list(decision.scale_in))
        if decision.give_up is not None:
            executor.give_up(decision.give_up)
            return
        if decision.scale_out:
            executor.scale_out(decision.scale_out)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (idempotent); blocks are left to the executors' shutdown."""
        self._stop.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
