"""``htex``: the HighThroughputExecutor, the submitting side.

One I/O thread owns the executor's ZeroMQ socket: submitting threads append to a
queue and wake it through a pipe, so tasks go out in batches with no polling
delay, and results come back in batches that complete the futures directly.

When a monitor records task states, the kernel learns when each task started
running (``on_task_running``) from what results and resource samples carry anyway:
a long task's first sample says so while it runs, any other task's result does.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import secrets
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import zmq

from plait.errors import ConfigError, ExecutorError, InvalidResourceSpecification
from plait.events import NodeChanged
from plait.executors.blocks import BlockProviderExecutor
from plait.lean_future import LeanFuture
from plait.providers.base import ExecutionProvider
from plait.serialize import pack_apply, unpack
from plait_executor_htex import curve, protocol
from plait_executor_htex.affinity import AFFINITY_MODES, parse_accelerators
from plait_executor_htex.errors import InterchangeLost, ManagerLost

logger = logging.getLogger(__name__)

_ACCEPTED_RESOURCES = frozenset({"priority", "walltime"})


class HighThroughputExecutor(BlockProviderExecutor):
    """Tasks run on pools of worker processes that the provider starts in blocks.

    :param label: the executor's label.
    :param provider: where blocks come from (default ``LocalProvider()``).
    :param address: the address managers use to reach the interchange; it binds
        there. Default ``127.0.0.1`` (this machine only).
    :param worker_port: a fixed port for managers, instead of one from the range.
    :param worker_port_range: ports the interchange may bind for managers.
    :param max_workers_per_node: worker processes per node (default: one per core,
        limited by ``cores_per_worker``, ``mem_per_worker`` and accelerators).
    :param cores_per_worker: cores each worker gets.
    :param mem_per_worker: GB each worker gets.
    :param prefetch_capacity: tasks a manager holds beyond its workers. None (the
        default) adapts: a share of a long queue, nothing extra for a short one.
    :param heartbeat_period: seconds between heartbeats, every direction.
    :param heartbeat_threshold: seconds of silence after which a peer is lost.
    :param drain_period: seconds after which a block takes no new tasks, finishes
        what it has and exits (set it below the block's walltime).
    :param poll_period: milliseconds the interchange and managers wait per poll.
    :param cpu_affinity: ``none``, ``block``, ``alternating``, ``block-reverse`` or
        ``list:0,1:2,3``.
    :param available_accelerators: a count or a list of device names; a name may
        appear several times so several workers share it.
    :param worker_logdir_root: where managers write logs (default the run dir).
    :param encrypted: encrypt and authenticate manager traffic with CurveZMQ (keys
        made per run in the run directory). Always on when ``address`` is not a
        loopback address.
    :param worker_debug: DEBUG logging in the interchange and managers.
    :param max_block_failures: failed blocks tolerated before the executor gives up.
    """

    plugin_name = "htex"
    can_cancel_running = True
    enforces_walltime = True  # the manager times the running task and replaces its worker

    def __init__(
        self,
        label: str = "htex",
        provider: ExecutionProvider | None = None,
        address: str = "127.0.0.1",
        worker_port: int | None = None,
        worker_port_range: tuple[int, int] = (54000, 55000),
        max_workers_per_node: int | None = None,
        cores_per_worker: float = 1.0,
        mem_per_worker: float | None = None,
        prefetch_capacity: int | None = None,
        heartbeat_period: float = 30.0,
        heartbeat_threshold: float = 120.0,
        drain_period: float | None = None,
        poll_period: int = 10,
        cpu_affinity: str = "none",
        available_accelerators: int | list[str] | tuple[str, ...] = (),
        worker_logdir_root: str | None = None,
        encrypted: bool = False,
        worker_debug: bool = False,
        max_block_failures: int = 3,
    ) -> None:
        super().__init__(provider, max_block_failures)
        if cpu_affinity not in AFFINITY_MODES and not cpu_affinity.startswith("list:"):
            raise ConfigError("cpu_affinity", cpu_affinity, [*AFFINITY_MODES, "list:0,1:2,3"])
        if heartbeat_threshold <= heartbeat_period:
            raise ConfigError(
                "heartbeat_threshold",
                heartbeat_threshold,
                f"a value above heartbeat_period ({heartbeat_period})",
            )
        self.label = label
        self.address = address
        self.worker_port = worker_port
        self.worker_port_range = worker_port_range
        self.max_workers_per_node = max_workers_per_node
        self.cores_per_worker = cores_per_worker
        self.mem_per_worker = mem_per_worker
        self.prefetch_capacity = prefetch_capacity
        self.heartbeat_period = heartbeat_period
        self.heartbeat_threshold = heartbeat_threshold
        self.drain_period = drain_period
        self.poll_period = poll_period
        self.cpu_affinity = cpu_affinity
        self.available_accelerators = available_accelerators
        self.worker_logdir_root = worker_logdir_root
        self.encrypted = encrypted
        self.worker_debug = worker_debug
        self._accelerators = parse_accelerators(available_accelerators)
        self._ids = itertools.count()
        self._futures: dict[int, Future[Any]] = {}
        #: tasks a resource sample has reported running (their results must not again)
        self._reported_running: set[int] = set()
        self._outbox: collections.deque[tuple[bytes, Any]] = collections.deque()
        self._wake_r, self._wake_w = -1, -1
        self._woken = False
        self._io: threading.Thread | None = None
        self._ix: subprocess.Popen[bytes] | None = None
        self._context: zmq.Context[Any] | None = None
        self._ports: tuple[int, int] | None = None
        self._token = ""
        self._token_file = ""
        self._status: dict[str, Any] = {"blocks": {}}
        self._lost_blocks: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._ix_lost = False
        self._stop = threading.Event()
        self._shutdown_lock = threading.Lock()
        self._shut_down = False

    # -- sizing ------------------------------------------------------------

    @property
    def workers_per_node(self) -> int:
        """Workers one manager starts: the least of what cores, memory, accelerators and
        the cap allow."""
        cores = self.provider.cores_per_node or os.cpu_count() or 1
        limits = [max(1, int(cores / self.cores_per_worker))]
        if self.max_workers_per_node:
            limits.append(self.max_workers_per_node)
        if self.mem_per_worker and self.provider.mem_per_node:
            limits.append(max(1, int(self.provider.mem_per_node / self.mem_per_worker)))
        if self._accelerators:
            limits.append(len(self._accelerators))
        return min(limits)

    # -- start -------------------------------------------------------------

    def start(self) -> None:
        """Start the interchange, connect to it, then submit the initial blocks."""
        run_dir = self.run_dir or os.getcwd()
        self.logdir = os.path.join(self.worker_logdir_root or run_dir, self.label)
        os.makedirs(self.logdir, exist_ok=True)
        self._token = secrets.token_hex(16)
        self._token_file = os.path.join(self.logdir, "token")
        fd = os.open(self._token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._token)
        self.cert_dir: str | None = None
        if curve.needs_encryption(self.address, self.encrypted):
            self.cert_dir = curve.create_keys(os.path.join(self.logdir, "certificates"))
        self._start_interchange()
        self._wake_r, self._wake_w = os.pipe()
        self._context = zmq.Context()
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        assert self._ports is not None
        sock.connect(f"tcp://127.0.0.1:{self._ports[0]}")
        sock.send_multipart([protocol.HELLO, protocol.dumps_json({"token": self._token})])
        self._io = threading.Thread(
            target=self._io_loop, args=(sock,), name=f"plait-{self.label}-io", daemon=True
        )
        self._io.start()
        self.start_blocks()

    def _start_interchange(self) -> None:
        config = {
            "token": self._token,
            "address": self.address,
            "worker_port": self.worker_port,
            "worker_port_range": list(self.worker_port_range),
            "heartbeat_period": self.heartbeat_period,
            "heartbeat_threshold": self.heartbeat_threshold,
            "poll_ms": self.poll_period,
            "logdir": self.logdir,
            "debug": self.worker_debug,
            "cert_dir": self.cert_dir,
        }
        stderr = open(os.path.join(self.logdir, "interchange.stderr"), "wb")  # noqa: SIM115
        self._ix = subprocess.Popen(
            [sys.executable, "-m", "plait_executor_htex.interchange"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        stderr.close()
        assert self._ix.stdin is not None and self._ix.stdout is not None
        self._ix.stdin.write(json.dumps(config).encode() + b"\n")
        self._ix.stdin.close()
        ready, _, _ = select.select([self._ix.stdout], [], [], 30)
        line = self._ix.stdout.readline().decode() if ready else ""
        if not line.startswith("PORTS "):
            self._stop_interchange()
            raise ExecutorError(
                self,
                f"the interchange did not start (exit status {self._ix.returncode}); "
                f"see {self.logdir}/interchange.stderr",
            )
        client_port, worker_port = (int(p) for p in line.split()[1:3])
        self._ports = (client_port, worker_port)

    #: the manager's console script, and the module run when the script is not there
    manager_script = "plait-htex-manager"
    manager_module = "plait_executor_htex.manager"

    def manager_options(self) -> list[str]:
        """Options a subclass adds to the manager command (its own manager parses them)."""
        return []

    def launch_command(self, block_id: str) -> str:
        """The manager command for one node of block ``block_id``."""
        assert self._ports is not None
        script = os.path.join(os.path.dirname(sys.executable), self.manager_script)
        program = script if os.path.exists(script) else f"{sys.executable} -m {self.manager_module}"
        parts = [
            program,
            f"--address {self.address}",
            f"--port {self._ports[1]}",
            f"--token-file {self._token_file}",
            f"--block-id {block_id}",
            f"--workers {self.workers_per_node}",
            f"--prefetch {-1 if self.prefetch_capacity is None else self.prefetch_capacity}",
            f"--hb-period {self.heartbeat_period}",
            f"--hb-threshold {self.heartbeat_threshold}",
            f"--poll {self.poll_period}",
            f"--cpu-affinity {self.cpu_affinity}",
            f"--logdir {self.logdir}",
        ]
        if self._accelerators:
            parts.append(f"--accelerators {','.join(self._accelerators)}")
        if self.drain_period:
            parts.append(f"--drain-period {self.drain_period}")
        if self.worker_debug:
            parts.append("--debug")
        if self.cert_dir:
            parts.append(f"--cert-dir {self.cert_dir}")
        if self.resource_interval:
            parts.append(f"--resource-interval {self.resource_interval}")
        parts.extend(self.manager_options())
        return " ".join(parts)

    # -- tasks -------------------------------------------------------------

    def submit(
        self,
        func: Callable[..., Any],
        resource_specification: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Future[Any]:
        """Serialize the call and queue it for the interchange.

        :raises plait.errors.SerializationError: naming the argument that cannot be sent.
        """
        priority, resources = (
            self.task_resources(resource_specification) if resource_specification else (0, None)
        )
        if self.bad_state_message is not None:
            raise ExecutorError(self, self.bad_state_message)
        if self._shut_down:
            raise ExecutorError(self, "has been shut down")
        payload = pack_apply(func, args, kwargs, getattr(func, "__name__", None))
        task_id = next(self._ids)
        fut: Future[Any] = LeanFuture()
        fut._htex_id = task_id  # type: ignore[attr-defined]
        self._futures[task_id] = fut
        self._send(protocol.TASKS, (task_id, priority, resources, payload))
        # cheap test first: while managers are connected there is surely a live block
        if self.poke is not None and not self._status.get("blocks") and not self.live_blocks():
            self.poke()
        return fut

    def task_resources(self, resource_specification: dict[str, Any]) -> tuple[int, Any]:
        """Check a task's (non-empty) resource specification; return its priority and what
        its manager needs to know, which travels with the task to the manager
        (:meth:`plait_executor_htex.manager.Manager.take_resources`): here the walltime
        the manager enforces, as ``{"walltime": seconds}``, or None.

        Subclasses whose managers need more (the MPI executor) override this. It is
        called only for tasks that have a resource specification, so tasks without
        one cost nothing extra.

        :raises InvalidResourceSpecification: naming the keys this executor does not take.
        """
        if not resource_specification.keys() <= _ACCEPTED_RESOURCES:
            unknown = set(resource_specification) - _ACCEPTED_RESOURCES
            raise InvalidResourceSpecification(
                unknown,
                f"htex executor {self.label!r} accepts only 'priority' (and the kernel's "
                f"'walltime'), not {sorted(unknown)}",
            )
        walltime = resource_specification.get("walltime")
        priority = int(resource_specification.get("priority", 0))
        return priority, None if walltime is None else {"walltime": walltime}

    def scale_in(self, block_ids: list[str]) -> None:
        """Tell the interchange to give these blocks nothing more (and stop their managers
        once idle), then cancel their jobs."""
        if block_ids:
            self._send(protocol.HOLD, list(block_ids))
        super().scale_in(block_ids)

    def monitor_resources(self) -> bool:
        """Yes: each worker samples itself (and what its task started) while it runs."""
        return True

    def cancel(self, future: Future[Any]) -> bool:
        """Withdraw a queued task or kill the worker running it (a new worker replaces it)."""
        task_id = getattr(future, "_htex_id", None)
        if task_id is None or not future.cancel():
            return False
        self._futures.pop(task_id, None)
        self._reported_running.discard(task_id)
        self._send(protocol.CANCEL, task_id)
        return True

    def outstanding(self) -> int:
        """Tasks submitted and not finished."""
        return len(self._futures)

    def block_activity(self) -> dict[str, tuple[int, float | None]]:
        """Tasks and idle seconds per block, from the interchange's latest status."""
        return {
            b: (info["tasks"], info["idle"]) for b, info in self._status.get("blocks", {}).items()
        }

    def connected_managers(self) -> int:
        """Managers registered with the interchange now."""
        return sum(info["managers"] for info in self._status.get("blocks", {}).values())

    def fail_all(self, exception: BaseException) -> None:
        """Fail every outstanding task with ``exception``."""
        futures, self._futures = self._futures, {}
        self._reported_running.clear()
        for fut in futures.values():
            if not fut.done():
                try:
                    fut.set_exception(exception)
                except Exception:  # cancelled meanwhile
                    pass

    # -- the I/O thread ----------------------------------------------------

    def _send(self, kind: bytes, item: Any) -> None:
        self._outbox.append((kind, item))
        if not self._woken:
            self._woken = True
            os.write(self._wake_w, b"x")

    def _io_loop(self, sock: zmq.Socket[Any]) -> None:
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        heard = time.monotonic()
        last_beat = 0.0
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(int(min(self.heartbeat_period, 1.0) * 1000)))
                now = time.monotonic()
                if self._wake_r in events:
                    os.read(self._wake_r, 4096)
                    self._woken = False
                    self._flush_outbox(sock)
                if sock in events:
                    while sock.poll(0):
                        self._on_message(protocol.recv(sock))
                    heard = now
                if now - last_beat >= self.heartbeat_period:
                    sock.send_multipart([protocol.HB, b""])
                    last_beat = now
                lost = self._interchange_lost(now - heard)
                if lost is not None and not self._shut_down:
                    self._interchange_gone(lost)
                    return
        finally:
            sock.close(0)

    def _flush_outbox(self, sock: zmq.Socket[Any]) -> None:
        tasks, cancels, holds, stop = [], [], [], False
        while self._outbox:
            kind, item = self._outbox.popleft()
            if kind == protocol.TASKS:
                tasks.append(item)
            elif kind == protocol.CANCEL:
                cancels.append(item)
            elif kind == protocol.HOLD:
                holds.extend(item)
            else:
                stop = True
        if tasks:
            header = [(task_id, priority, resources) for task_id, priority, resources, _ in tasks]
            payloads = [payload for *_, payload in tasks]
            sock.send_multipart(protocol.batch(protocol.TASKS, header, payloads), copy=False)
        if cancels:
            sock.send_multipart([protocol.CANCEL, protocol.dumps(cancels)])
        if holds:
            sock.send_multipart([protocol.HOLD, protocol.dumps(holds)])
        if stop:
            sock.send_multipart([protocol.STOP, b""])

    def _on_message(self, frames: list[bytes]) -> None:
        kind, rest = frames[0], frames[1:]
        if kind == protocol.RESULTS:
            self._on_results(rest)
        elif kind == protocol.STATUS:
            self._status = protocol.loads(rest[0])
        elif kind == protocol.RESOURCES:
            block_id, samples = protocol.loads(rest[0])
            self._on_samples(block_id, samples)
        elif kind == protocol.NODE:
            self._node_changed(protocol.loads(rest[0]))
        elif kind == protocol.REFUSED:
            logger.error("executor %s: %s", self.label, protocol.loads(rest[0]))

    def _on_results(self, frames: list[bytes]) -> None:
        """Complete the futures of a batch of results. Just before, tell the kernel when
        each task started running, if it wants to know and no sample has told it yet:
        the result carries the start, so knowing costs no message."""
        unpacked = protocol.unbatch(frames)
        if unpacked is None:
            logger.error("executor %s: malformed results from the interchange", self.label)
            return
        report = self.on_task_running  # read now: the kernel may set it at any time
        reported = self._reported_running
        for (task_id, result_kind, started, block_id), data in zip(*unpacked, strict=True):
            fut = self._futures.pop(task_id, None)
            if reported and task_id in reported:
                reported.discard(task_id)
                started = None  # a sample reported it running already
            if fut is None or fut.done():
                continue
            if report is not None and started is not None:
                report(fut, started, block_id)
            try:
                value = unpack(data)
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if result_kind == protocol.RESULT_OK:
                fut.set_result(value)
            else:
                if isinstance(value, ManagerLost):
                    value = self._with_job(value)
                fut.set_exception(value)

    def _on_samples(self, block_id: str, samples: list[tuple[int, float, dict[str, Any]]]) -> None:
        """Pass resource samples of running tasks on to the kernel. A task's first sample
        also tells it that the task is running (once per task), so a long task shows as
        running while it runs, not only when its result comes."""
        report_sample = self.on_resource_sample
        report_running = self.on_task_running
        for task_id, started, values in samples:
            fut = self._futures.get(task_id)
            if fut is None:
                continue  # finished (its result came first) or cancelled
            if report_running is not None and task_id not in self._reported_running:
                self._reported_running.add(task_id)
                report_running(fut, started, block_id)
            if report_sample is not None:
                report_sample(fut, values)

    def _node_changed(self, node: dict[str, Any]) -> None:
        """A manager joined or left: tell the kernel's observers (``plait_node_changed``)."""
        if self.on_node is None:
            return
        self.on_node(
            NodeChanged(
                self.run_id or "",
                self.label,
                node["hostname"],
                node["uid"],
                node["block_id"],
                node["cpu_count"],
                node["total_memory"],
                node["workers"],
                node["python"],
                node["active"],
                time.time(),
            )
        )

    def _with_job(self, error: ManagerLost) -> ManagerLost:
        """``error`` naming the provider job behind the lost block and its state now."""
        cached = self._lost_blocks.get(error.block_id)
        if cached is None:
            status = self.poll(force=True).get(error.block_id)
            cached = (
                self.blocks.get(error.block_id),
                status.state.name if status else None,
                status.message if status else None,
            )
            self._lost_blocks[error.block_id] = cached
        job_id, state, message = cached
        return ManagerLost(
            error.manager, error.hostname, error.block_id, error.silent_for, job_id, state, message
        )

    def _interchange_lost(self, silent: float) -> str | None:
        assert self._ix is not None
        code = self._ix.poll()
        if code is not None:
            return (
                f"executor {self.label!r}: the interchange process (pid {self._ix.pid}) exited "
                f"with status {code}; see {self.logdir}/interchange.log"
            )
        if silent > self.heartbeat_threshold:
            return (
                f"executor {self.label!r}: the interchange (pid {self._ix.pid}) sent nothing for "
                f"{silent:.0f} s (heartbeat_threshold)"
            )
        return None

    def _interchange_gone(self, message: str) -> None:
        """Fail every task, now and later, with :class:`InterchangeLost`."""
        self._ix_lost = True
        if self.bad_state_message is not None:
            return
        self.bad_state_message = message
        logger.error("%s", message)
        self.fail_all(InterchangeLost(self, message))

    # -- shutdown ----------------------------------------------------------

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop the interchange (it stops its managers), cancel every block, reap
        everything. Idempotent; bounded by ``timeout`` plus the provider's cancel."""
        with self._shutdown_lock:
            if self._shut_down:
                return
            self._shut_down = True
        if self._ix is None:
            return
        if self._io is not None and self._io.is_alive():
            self._send(protocol.STOP, None)
        # an interchange already declared lost is not waited for
        self._stop_interchange(0.0 if self._ix_lost else timeout)
        self._stop.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")  # the I/O thread may be waiting in poll
        if self._io is not None and self._io is not threading.current_thread():
            self._io.join(timeout)
        self.shutdown_blocks()
        from concurrent.futures import CancelledError

        self.fail_all(CancelledError(f"executor {self.label!r} shut down"))
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._context is not None:
            self._context.term()

    def _stop_interchange(self, timeout: float = 5.0) -> None:
        proc = self._ix
        if proc is None:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if timeout > 0:
                proc.terminate()
                try:
                    proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
