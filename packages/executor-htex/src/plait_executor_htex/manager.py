"""The HTEX manager: the pilot job on one node (``plait-htex-manager``).

Started by the provider through the launcher, once per node of a block. It
registers with the interchange, starts its worker processes by exec, hands them
tasks, and sends results back in batches. It replaces a worker that dies (and
reports the task it held as :class:`WorkerLost`), kills a worker whose task is
cancelled, and exits (killing its workers) when the interchange goes silent for
``--hb-threshold`` seconds, so a lost workflow leaves nothing running.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import zmq

from plait.errors import AppTimeout
from plait.serialize import pack
from plait_executor_htex import curve, pacing, protocol
from plait_executor_htex.affinity import cpu_sets, parse_accelerators, worker_environment
from plait_executor_htex.errors import WorkerLost
from plait_executor_htex.procs import kill_tree

logger = logging.getLogger("plait_executor_htex.manager")


class Worker:
    """One worker process and the tasks handed to it, oldest (running) first."""

    def __init__(self, index: int, proc: subprocess.Popen[bytes]) -> None:
        self.index = index
        self.proc = proc
        self.identity = f"w{index}".encode()
        self.assigned: collections.deque[int] = collections.deque()
        self.ready = False
        #: when the oldest assigned task (the one running) started (monotonic), for its
        #: walltime and for when a task lost with its worker began
        self.head_started = 0.0
        self.timed_out: int | None = None


class Manager:
    """The manager's state and event loop."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.hostname = socket.gethostname()
        self.uid = args.uid or uuid.uuid4().hex[:12]
        self.block_id = args.block_id
        with open(args.token_file) as f:
            self.token = f.read().strip()
        self.context = zmq.Context()
        self.ix = self.context.socket(zmq.DEALER)
        self.ix.setsockopt(zmq.IDENTITY, self.uid.encode())
        self.ix.setsockopt(zmq.LINGER, 0)
        # A send waits while no connection to the interchange is up (a DEALER has no peer
        # between a refused handshake and the next try): never longer than the threshold.
        self.ix.setsockopt(zmq.SNDTIMEO, int(args.hb_threshold * 1000))
        if args.cert_dir:
            curve.make_client(self.ix, args.cert_dir)
        self.ix.connect(f"tcp://{args.address}:{args.port}")
        self.workers_sock = self.context.socket(zmq.ROUTER)
        self.workers_sock.setsockopt(zmq.LINGER, 0)
        self.worker_port = self.workers_sock.bind_to_random_port("tcp://127.0.0.1")
        self.count = args.workers or os.cpu_count() or 1
        self.accelerators = parse_accelerators(args.accelerators or "")
        if self.accelerators and not args.workers:
            self.count = min(self.count, len(self.accelerators))
        cpus = sorted(os.sched_getaffinity(0))
        self.cpu_sets = cpu_sets(args.cpu_affinity, self.count, cpus)
        self.workers: dict[bytes, Worker] = {}
        self.queue: collections.deque[tuple[int, Any]] = collections.deque()
        self.payloads: dict[int, Any] = {}  # tasks handed to workers, until reported
        self.walltimes: dict[int, float] = {}  # seconds, for tasks that have one
        self.cancelled: set[int] = set()
        #: results for the interchange: header entries as the workers sent them
        #: (:data:`protocol.ResultEntry`), and the packed outcomes, in the same order
        self.results: list[protocol.ResultEntry] = []
        self.outcomes: list[Any] = []
        #: resource samples from workers' samplers, (task id, started, sample), for the
        #: interchange
        self.samples: list[tuple[int, float, dict[str, Any]]] = []
        self.pace = pacing.TaskPace()
        self.last_heard = time.monotonic()
        self.last_sent = 0.0
        self.started = time.monotonic()
        self.draining = False
        self.drain_acknowledged = False
        self.stopping = False

    # -- workers -----------------------------------------------------------

    #: the module a worker process runs
    worker_module = "plait_executor_htex.worker"

    def worker_command(self, index: int) -> list[str]:
        """The command line of worker ``index``: exec'd, never forked from this process."""
        command = [
            sys.executable,
            "-m",
            self.worker_module,
            "--port",
            str(self.worker_port),
            "--id",
            str(index),
        ]
        if self.args.resource_interval:
            command += ["--resource-interval", str(self.args.resource_interval)]
        return command

    def start_worker(self, index: int) -> Worker:
        env = dict(os.environ)
        env.update(worker_environment(index, self.accelerators, self.cpu_sets[index]))
        env.update(
            PARSL_WORKER_RANK=str(index),
            PARSL_WORKER_COUNT=str(self.count),
            PARSL_WORKER_POOL_ID=self.uid,
            PARSL_WORKER_BLOCK_ID=self.block_id,
            PLAIT_WORKER_RANK=str(index),
            PLAIT_WORKER_BLOCK_ID=self.block_id,
        )
        cpu_set = self.cpu_sets[index]
        proc = subprocess.Popen(self.worker_command(index), env=env, stdin=subprocess.DEVNULL)
        if cpu_set:
            try:
                os.sched_setaffinity(proc.pid, cpu_set)
            except OSError as exc:
                logger.warning("cannot pin worker %d to CPUs %s: %s", index, cpu_set, exc)
        worker = Worker(index, proc)
        self.workers[worker.identity] = worker
        return worker

    def check_workers(self) -> None:
        """Replace dead workers. The oldest task a dead worker held was running: it fails
        with WorkerLost (unless it was cancelled); the others go back to the queue."""
        for worker in list(self.workers.values()):
            code = worker.proc.poll()
            if code is None:
                continue
            del self.workers[worker.identity]
            if worker.assigned:
                running = worker.assigned.popleft()
                self.payloads.pop(running, None)
                walltime = self.walltimes.pop(running, None)
                started = wall_clock(worker.head_started)
                if running in self.cancelled:
                    self.cancelled.discard(running)
                    self.report_untimed(running, protocol.RESULT_CANCELLED)
                elif running == worker.timed_out:
                    error: Exception = AppTimeout(
                        f"task {running} exceeded its walltime of {walltime:g} s on "
                        f"{self.hostname} (block {self.block_id}); its worker was replaced"
                    )
                    self.report_untimed(running, protocol.RESULT_ERR, pack(error), started)
                else:
                    error = WorkerLost(worker.index, self.hostname, self.block_id, code)
                    self.report_untimed(running, protocol.RESULT_ERR, pack(error), started)
                for task_id in reversed(worker.assigned):
                    payload = self.payloads.pop(task_id, None)
                    if payload is not None and task_id not in self.cancelled:
                        self.queue.appendleft((task_id, payload))
            if not self.stopping:
                self.start_worker(worker.index)

    def enforce_walltimes(self, now: float) -> None:
        """Kill a worker whose running task is past its walltime (check_workers reports
        the task as AppTimeout and starts a fresh worker)."""
        for worker in self.workers.values():
            if not worker.assigned or worker.timed_out is not None:
                continue
            walltime = self.walltimes.get(worker.assigned[0])
            if walltime is not None and now - worker.head_started > walltime:
                worker.timed_out = worker.assigned[0]
                kill_tree(worker.proc.pid)

    def kill_workers(self) -> None:
        for worker in self.workers.values():
            if worker.proc.poll() is None:  # never signal a reaped (maybe reused) pid
                kill_tree(worker.proc.pid)
        for worker in self.workers.values():
            try:
                worker.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.error("worker %d did not die", worker.index)

    def dispatch(self) -> None:
        """Hand queued tasks to workers: a share of the queue (guided self-scheduling),
        sized by how long tasks take (:mod:`plait_executor_htex.pacing`): busy workers
        are topped up ahead of time when tasks are short, only idle ones get work when
        tasks are long or not yet timed."""
        if not self.queue:
            return
        hold = pacing.worker_hold(self.pace.seconds)
        if hold is None:
            takers = [w for w in self.workers.values() if w.ready and not w.assigned]
        else:
            takers = [w for w in self.workers.values() if w.ready and len(w.assigned) <= hold // 2]
        for n, worker in enumerate(takers):
            if not self.queue:
                return
            room = pacing.UNKNOWN_CHUNK if hold is None else hold - len(worker.assigned)
            share = max(1, len(self.queue) // (2 * (len(takers) - n)))
            batch = [self.queue.popleft() for _ in range(min(room, share, len(self.queue)))]
            if not worker.assigned:
                worker.head_started = time.monotonic()
            for task_id, payload in batch:
                worker.assigned.append(task_id)
                self.payloads[task_id] = payload
            frames = protocol.batch(protocol.TASK, [t for t, _ in batch], [p for _, p in batch])
            self.workers_sock.send_multipart([worker.identity, *frames], copy=False)

    def cancel(self, task_ids: list[int]) -> None:
        """Drop queued tasks; a worker's not-yet-started task is withdrawn from it; a
        running task's worker is killed (check_workers replaces it)."""
        wanted = set(task_ids)
        queued = [t for t in self.queue if t[0] in wanted]
        if queued:
            self.queue = collections.deque(t for t in self.queue if t[0] not in wanted)
            for task_id, _ in queued:
                self.walltimes.pop(task_id, None)
                self.report_untimed(task_id, protocol.RESULT_CANCELLED)
        for worker in self.workers.values():
            hit = wanted.intersection(worker.assigned)
            if not hit:
                continue
            if worker.assigned[0] in hit:
                self.cancelled.add(worker.assigned[0])
                kill_tree(worker.proc.pid)
            waiting = [t for t in hit if t != worker.assigned[0]]
            if waiting:
                for task_id in waiting:
                    worker.assigned.remove(task_id)
                    self.payloads.pop(task_id, None)
                    self.walltimes.pop(task_id, None)
                    self.report_untimed(task_id, protocol.RESULT_CANCELLED)
                self.workers_sock.send_multipart(
                    [worker.identity, protocol.CANCEL, protocol.dumps(waiting)]
                )

    def report_untimed(
        self, task_id: int, kind: str, data: Any = b"", started: float | None = None
    ) -> None:
        """Queue the outcome of a task that no worker reported (cancelled, timed out, lost
        with its worker, or one this manager cannot run): with no run time, so it does
        not pace hand-outs, and with ``started`` only if it is known to have run."""
        self.results.append((task_id, kind, None, started))
        self.outcomes.append(data)

    # -- the interchange ---------------------------------------------------

    def register(self) -> None:
        """Register and wait for the interchange's answer (bounded by the heartbeat threshold)."""
        self.to_interchange(
            [
                protocol.REG,
                protocol.dumps_json(
                    {
                        "token": self.token,
                        "versions": protocol.versions(),
                        "uid": self.uid,
                        "hostname": self.hostname,
                        "block_id": self.block_id,
                        "workers": self.count,
                        "prefetch": self.args.prefetch,
                        "pid": os.getpid(),
                        "cpu_count": os.cpu_count() or 0,
                        "total_memory": _total_memory(),
                    }
                ),
            ]
        )
        if not self.ix.poll(int(self.args.hb_threshold * 1000)):
            raise SystemExit(self.unreachable("no answer from"))
        kind, body = self.ix.recv_multipart()
        if kind == protocol.REFUSED:
            print(
                f"plait-htex-manager: refused by the interchange: {protocol.loads_json(body)}",
                file=sys.stderr,
            )
            raise SystemExit(protocol.EXIT_REFUSED)
        self.last_heard = time.monotonic()

    def unreachable(self, what: str) -> str:
        """Why this manager gives up on the interchange, and what to check."""
        return (
            f"plait-htex-manager: {what} the interchange at {self.args.address}:"
            f"{self.args.port} within {self.args.hb_threshold} s; check that this node can "
            "reach that address (HighThroughputExecutor(address=...))"
            + (
                ""
                if self.args.cert_dir
                else ", and if the executor encrypts (encrypted=True or a non-loopback "
                "address) that this manager was given --cert-dir"
            )
        )

    def to_interchange(self, frames: list[Any], copy: bool = True) -> None:
        """Send to the interchange; a send that cannot go out within the heartbeat
        threshold (no connection up) ends the manager instead of blocking it."""
        try:
            self.ix.send_multipart(frames, copy=copy)
        except zmq.Again:
            raise SystemExit(self.unreachable("cannot send to")) from None

    def run(self) -> int:
        self.register()
        for index in range(self.count):
            self.start_worker(index)
        poller = zmq.Poller()
        poller.register(self.ix, zmq.POLLIN)
        poller.register(self.workers_sock, zmq.POLLIN)
        period = self.args.hb_period
        poll_ms = self.args.poll
        next_check = 0.0
        while True:
            events = dict(poller.poll(poll_ms))
            now = time.monotonic()
            if self.ix in events:
                while self.ix.poll(0):
                    self.on_interchange(protocol.recv(self.ix))
                self.last_heard = now
            if self.workers_sock in events:
                while self.workers_sock.poll(0):
                    self.on_worker(protocol.recv(self.workers_sock))
            if self.stopping:
                return 0
            if now >= next_check:
                self.enforce_walltimes(now)
                self.check_workers()
                next_check = now + 0.1
            self.dispatch()
            if self.results:
                frames = protocol.batch(protocol.RESULTS, self.results, self.outcomes)
                self.to_interchange(frames, copy=False)
                self.results, self.outcomes = [], []
                self.last_sent = now
            if self.samples:
                self.to_interchange([protocol.RESOURCES, protocol.dumps(self.samples)])
                self.samples = []
            if now - self.last_sent >= period:
                self.to_interchange([protocol.HB, b""])
                self.last_sent = now
            if now - self.last_heard > self.args.hb_threshold:
                logger.error("interchange silent for %.0f s: exiting", now - self.last_heard)
                return 1
            if (
                self.args.drain_period
                and not self.draining
                and now - self.started >= self.args.drain_period
            ):
                self.draining = True
                self.to_interchange([protocol.DRAIN, b""])
            if (
                self.drain_acknowledged  # so no task the interchange sent is still on its way
                and not self.queue
                and not any(w.assigned for w in self.workers.values())
            ):
                return 0

    def on_interchange(self, frames: list[Any]) -> None:
        kind = frames[0]
        if kind == protocol.TASKS:
            unpacked = protocol.unbatch(frames[1:])
            if unpacked is not None:
                header, payloads = unpacked
                for (task_id, resources), payload in zip(header, payloads, strict=True):
                    self.queue.append((task_id, payload))
                    if resources is not None:
                        self.take_resources(task_id, resources)
        elif kind == protocol.CANCEL:
            self.cancel(protocol.loads(frames[1]))
        elif kind == protocol.STOP:
            self.stopping = True
        elif kind == protocol.DRAIN:
            # the interchange sends nothing more; whatever it sent before is already here
            self.drain_acknowledged = True

    def take_resources(self, task_id: int, resources: dict[str, Any]) -> None:
        """Note what the executor sent along with a task (its ``task_resources``): the
        walltime. Subclasses override it to take more."""
        walltime = resources.get("walltime")
        if walltime is not None:
            self.walltimes[task_id] = walltime

    def on_worker(self, frames: list[Any]) -> None:
        worker = self.workers.get(frames[0])
        if worker is None and len(frames) == 3 and frames[1] == protocol.RESOURCE:
            self.samples.append(protocol.loads(frames[2]))  # a worker's resource sampler
            return
        if worker is None or len(frames) < 2:
            return  # a worker that was just replaced
        kind = frames[1]
        if kind == protocol.READY:
            worker.ready = True
        elif kind == protocol.RESULT:
            unpacked = protocol.unbatch(frames[2:])
            if unpacked is None:
                return
            header, payloads = unpacked
            self.pace.add_results(header)
            now = time.monotonic()
            for entry, data in zip(header, payloads, strict=True):
                task_id = entry[0]
                if worker.assigned and worker.assigned[0] == task_id:
                    worker.assigned.popleft()
                else:
                    try:
                        worker.assigned.remove(task_id)
                    except ValueError:
                        pass  # withdrawn by a cancel that crossed the result
                self.payloads.pop(task_id, None)
                self.walltimes.pop(task_id, None)
                worker.head_started = now
                if task_id in self.cancelled:
                    self.cancelled.discard(task_id)
                else:
                    self.results.append(entry)  # passed on as the worker made it
                    self.outcomes.append(data)

    def close(self) -> None:
        self.stopping = True
        self.kill_workers()
        self.ix.close(0)
        self.workers_sock.close(0)
        self.context.term()


#: seconds a stopping manager may take to close (its workers are killed first)
CLOSE_LIMIT = 10.0
#: exit status of a manager that had to give up closing its sockets
EXIT_STUCK = 70


def wall_clock(instant: float) -> float:
    """``time.time()`` at the ``time.monotonic()`` ``instant``: when a task its worker
    never reported on (lost, timed out) started, as near as the manager knows."""
    return time.time() - (time.monotonic() - instant)


def _total_memory() -> int:
    """Bytes of memory on this node (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def build_parser(
    prog: str = "plait-htex-manager", description: str = __doc__.splitlines()[0]
) -> argparse.ArgumentParser:
    """The manager's options; a subclass's manager adds its own to these."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--address", required=True, help="the interchange's address")
    parser.add_argument("--port", type=int, required=True, help="the interchange's worker port")
    parser.add_argument("--token-file", required=True, help="file holding this run's token")
    parser.add_argument("--block-id", default="?", help="the block this manager belongs to")
    parser.add_argument("--uid", default=None, help="manager id (default: random)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU)")
    parser.add_argument(
        "--prefetch", type=int, default=0, help="extra tasks to hold beyond workers"
    )
    parser.add_argument("--hb-period", type=float, default=30.0)
    parser.add_argument("--hb-threshold", type=float, default=120.0)
    parser.add_argument("--poll", type=int, default=10, help="poll period in ms")
    parser.add_argument("--drain-period", type=float, default=0.0)
    parser.add_argument("--cpu-affinity", default="none")
    parser.add_argument("--accelerators", default="")
    parser.add_argument("--logdir", default=None)
    parser.add_argument("--cert-dir", default=None, help="CurveZMQ keys of this run")
    parser.add_argument("--debug", action="store_true")
    parser.add_argument(
        "--resource-interval",
        type=float,
        default=0.0,
        help="seconds between resource samples of running tasks (0: none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a manager until the interchange stops it or goes silent."""
    return serve(Manager, build_parser().parse_args(argv))


def serve(manager_class: type[Manager], args: argparse.Namespace) -> int:
    """Log to the log directory, run a ``manager_class`` until it stops, and close it
    (killing its workers) however it stops, SIGTERM included."""
    if args.logdir:
        os.makedirs(args.logdir, exist_ok=True)
        logging.basicConfig(
            filename=os.path.join(args.logdir, f"manager-{args.block_id}-{os.getpid()}.log"),
            level=logging.DEBUG if args.debug else logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
        )
    manager = manager_class(args)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        return manager.run()
    finally:
        # bounded: a manager that cannot finish closing its sockets still exits
        watchdog = threading.Timer(CLOSE_LIMIT, os._exit, (EXIT_STUCK,))
        watchdog.daemon = True
        watchdog.start()
        manager.close()
        watchdog.cancel()


if __name__ == "__main__":
    sys.exit(main())
