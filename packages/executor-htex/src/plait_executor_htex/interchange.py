"""The HTEX interchange: a separate process between the executor and the managers.

Started by the executor with exec (``python -m plait_executor_htex.interchange``),
configured by one JSON object on stdin, it binds two ROUTER sockets and prints
``PORTS <client> <workers>`` on stdout. It keeps the queue of tasks (higher
``priority`` first, first in first out within one priority), sends each manager
batches up to its free capacity, forwards batches of results, and watches
heartbeats both ways:

* a manager silent for ``heartbeat_threshold`` is dropped and its tasks fail with
  :class:`ManagerLost`;
* an executor silent for ``heartbeat_threshold`` (or whose process is gone) means
  the workflow is gone: the interchange stops its managers and exits.

Peers must authenticate with the run's token before any of their messages is
unpickled; anything else is dropped and counted.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from plait.serialize import pack
from plait_executor_htex import curve, pacing, protocol
from plait_executor_htex.errors import ManagerLost

logger = logging.getLogger("plait_executor_htex.interchange")


@dataclass
class ManagerState:
    """What the interchange knows about one connected manager."""

    identity: bytes
    hostname: str
    block_id: str
    workers: int
    prefetch: int
    last_heard: float
    tasks: set[int] = field(default_factory=set)
    idle_since: float | None = None
    draining: bool = False
    held: bool = False
    pace: pacing.TaskPace = field(default_factory=pacing.TaskPace)
    #: what the manager said of its node (the executor's ``NODE`` messages)
    node: dict[str, Any] = field(default_factory=dict)

    @property
    def most(self) -> int:
        """The most tasks this manager may hold at once now."""
        if self.prefetch >= 0:
            return self.workers + self.prefetch
        return self.workers * (1 + pacing.manager_extra_per_worker(self.pace.seconds))

    def free(self, queued: int, managers: int) -> int:
        """Tasks this manager may take now. A fixed ``prefetch`` (Parsl's meaning) adds that
        many beyond its workers; adaptive prefetch (-1) lets it take a share of a long
        queue, as much as its workers get through in a few milliseconds (see
        :mod:`plait_executor_htex.pacing`), and nothing extra when the queue is short, so
        no manager hoards tasks that another could start."""
        if self.draining:
            return 0
        if self.prefetch >= 0:
            extra = self.prefetch
        else:
            extra = min(self.most - self.workers, queued // (2 * max(1, managers)))
        return self.workers + extra - len(self.tasks)


class Interchange:
    """The interchange's state and event loop."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.token: str = config["token"]
        self.threshold: float = config["heartbeat_threshold"]
        self.period: float = config["heartbeat_period"]
        self.poll_ms: int = config.get("poll_ms", 10)
        self.parent = os.getppid()
        self.context = zmq.Context()
        self.client = self.context.socket(zmq.ROUTER)
        self.client.setsockopt(zmq.LINGER, 0)
        client_port = self.client.bind_to_random_port("tcp://127.0.0.1")
        self.workers = self.context.socket(zmq.ROUTER)
        self.workers.setsockopt(zmq.LINGER, 0)
        self.workers.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.authenticator = None
        if config.get("cert_dir"):
            self.authenticator = curve.make_server(self.context, self.workers, config["cert_dir"])
        worker_port = self._bind_workers(config)
        self.ports = (client_port, worker_port)
        self.client_identity: bytes | None = None
        self.client_heard = time.monotonic()
        self.queue: list[tuple[int, int, int, Any]] = []  # (-priority, seq, id, payload)
        self.seq = itertools.count()
        self.cancelled: set[int] = set()
        #: what managers need to know of queued tasks with a resource specification (the
        #: executor's ``task_resources``), passed on untouched
        self.resources: dict[int, Any] = {}
        self.managers: dict[bytes, ManagerState] = {}
        #: managers that may take more tasks; dispatch looks only at these, so its cost
        #: follows the managers with room, not every manager connected
        self.room: dict[bytes, ManagerState] = {}
        self.last_expiry = 0.0
        self.expiry_interval = max(0.05, min(self.period, self.threshold / 4))
        self.where: dict[int, bytes] = {}  # task id -> manager identity
        #: results for the executor: header entries (task id, kind, started, block id) and
        #: the packed outcomes, in the same order
        self.results: list[tuple[int, str, float | None, str]] = []
        self.outcomes: list[Any] = []
        self.dropped = 0
        self.last_status = 0.0
        self.last_beat = 0.0
        self.versions = protocol.versions()

    def _bind_workers(self, config: dict[str, Any]) -> int:
        address = config.get("address", "127.0.0.1")
        if config.get("worker_port"):
            self.workers.bind(f"tcp://{address}:{config['worker_port']}")
            return int(config["worker_port"])
        low, high = config.get("worker_port_range", (54000, 55000))
        return int(self.workers.bind_to_random_port(f"tcp://{address}", low, high, max_tries=200))

    # -- event loop --------------------------------------------------------

    def run(self) -> int:
        poller = zmq.Poller()
        poller.register(self.client, zmq.POLLIN)
        poller.register(self.workers, zmq.POLLIN)
        while True:
            events = dict(poller.poll(self.poll_ms))
            now = time.monotonic()
            if self.client in events:
                while self.client.poll(0):
                    if self.on_client(protocol.recv(self.client), now):
                        return 0
            if self.workers in events:
                while self.workers.poll(0):
                    self.on_manager(protocol.recv(self.workers), now)
            self.expire_managers(now)
            self.dispatch(now)
            self.flush(now)
            if self.client_lost(now):
                return 1

    def client_lost(self, now: float) -> bool:
        if os.getppid() != self.parent:
            logger.error("the submitting process is gone: stopping managers and exiting")
            return True
        if now - self.client_heard > self.threshold:
            logger.error(
                "no heartbeat from the executor for %.0f s: exiting", now - self.client_heard
            )
            return True
        return False

    def on_client(self, frames: list[Any], now: float) -> bool:
        """Handle one executor message; True means stop. Malformed ones are dropped."""
        if len(frames) < 3:
            self.dropped += 1
            return False
        identity, kind = frames[0], frames[1]
        if identity != self.client_identity:
            if kind == protocol.HELLO and self._token_ok(frames[2]):
                self.client_identity = identity
                self.client_heard = now
            else:
                self.dropped += 1
            return False
        self.client_heard = now
        try:
            if kind == protocol.TASKS:
                unpacked = protocol.unbatch(frames[2:])
                if unpacked is None:
                    raise ValueError("task header does not match its payloads")
                for (task_id, priority, resources), payload in zip(*unpacked, strict=True):
                    if resources is not None:
                        self.resources[task_id] = resources
                    heapq.heappush(self.queue, (-priority, next(self.seq), task_id, payload))
            elif kind == protocol.CANCEL:
                self.cancel(protocol.loads(frames[2]))
            elif kind == protocol.HOLD:
                self.hold(protocol.loads(frames[2]))
            elif kind == protocol.STOP:
                return True
        except Exception:
            logger.exception("malformed %r message from the executor: dropped", kind)
            self.dropped += 1
        return False

    def _token_ok(self, body: bytes) -> bool:
        try:
            return bool(protocol.loads_json(body).get("token") == self.token)
        except (ValueError, AttributeError):
            return False

    def on_manager(self, frames: list[Any], now: float) -> None:
        """Handle one manager message. Only REG is read from an unregistered peer (as JSON);
        anything else from one, and anything malformed, is dropped and counted."""
        if len(frames) < 3:
            self.dropped += 1
            return
        identity, kind = frames[0], frames[1]
        manager = self.managers.get(identity)
        if manager is None:
            if kind == protocol.REG and len(frames) == 3:
                self.register(identity, frames[2], now)
            else:
                self.dropped += 1
            return
        manager.last_heard = now
        try:
            if kind == protocol.RESULTS:
                unpacked = protocol.unbatch(frames[2:])
                if unpacked is None:
                    raise ValueError("result header does not match its payloads")
                header, payloads = unpacked
                manager.pace.add_results(header)
                block_id = manager.block_id  # one object: pickled once per batch
                for (task_id, result_kind, _, started), data in zip(header, payloads, strict=True):
                    manager.tasks.discard(task_id)
                    self.where.pop(task_id, None)
                    if task_id in self.cancelled or result_kind == protocol.RESULT_CANCELLED:
                        self.cancelled.discard(task_id)
                        continue
                    self.results.append((task_id, result_kind, started, block_id))
                    self.outcomes.append(data)
                if not manager.tasks:
                    manager.idle_since = now
                    if manager.draining and manager.held:
                        self.release(manager)
                if not manager.draining and len(manager.tasks) < manager.most:
                    self.room[identity] = manager
            elif kind == protocol.DRAIN:
                manager.draining = True
                self.room.pop(identity, None)
                # the answer follows every task already sent to it: once the manager has it,
                # no task is still on its way and it may exit when idle
                self.workers.send_multipart([identity, protocol.DRAIN, b""])
            elif kind == protocol.RESOURCES:
                # the block, so that the executor can report these tasks running there
                samples = protocol.loads(frames[2])
                self.to_client(protocol.RESOURCES, (manager.block_id, samples))
        except Exception:
            logger.exception("malformed %r message from manager %r: dropped", kind, identity)
            self.dropped += 1

    def register(self, identity: bytes, body: bytes, now: float) -> None:
        try:
            info = protocol.loads_json(body)
            token_ok = info.get("token") == self.token
        except (ValueError, AttributeError):
            self.dropped += 1
            return
        if not token_ok:
            self.dropped += 1
            self.workers.send_multipart(
                [identity, protocol.REFUSED, protocol.dumps_json("bad token")]
            )
            return
        if info.get("versions") != self.versions:
            reason = (
                f"version mismatch: manager on {info.get('hostname')} runs {info.get('versions')}, "
                f"the submitting side runs {self.versions}"
            )
            logger.error("%s", reason)
            self.workers.send_multipart([identity, protocol.REFUSED, protocol.dumps_json(reason)])
            self.to_client(protocol.REFUSED, reason)
            return
        try:
            state = ManagerState(
                identity,
                str(info["hostname"]),
                str(info["block_id"]),
                int(info["workers"]),
                int(info.get("prefetch", 0)),
                now,
                idle_since=now,
            )
            if state.workers < 1:
                raise ValueError(f"workers={state.workers}")
        except (KeyError, ValueError, TypeError) as exc:
            self.dropped += 1
            reason = f"malformed registration ({type(exc).__name__}: {exc})"
            self.workers.send_multipart([identity, protocol.REFUSED, protocol.dumps_json(reason)])
            return
        state.node = {
            "hostname": state.hostname,
            "uid": str(info.get("uid", "")),
            "block_id": state.block_id,
            "cpu_count": int(info.get("cpu_count") or 0),
            "total_memory": int(info.get("total_memory") or 0),
            "workers": state.workers,
            "python": info.get("versions", "").rpartition("Python ")[2],
        }
        self.managers[identity] = self.room[identity] = state
        self.workers.send_multipart([identity, protocol.OK, b""])
        self.last_status = 0.0  # tell the executor at once that a block is live
        self.to_client(protocol.NODE, {**state.node, "active": True})
        logger.info(
            "manager %s on %s (block %s) registered with %s workers",
            info["uid"],
            info["hostname"],
            info["block_id"],
            info["workers"],
        )

    def cancel(self, task_ids: list[int]) -> None:
        by_manager: dict[bytes, list[int]] = {}
        for task_id in task_ids:
            identity = self.where.get(task_id)
            if identity is None:
                self.cancelled.add(task_id)  # still queued: skipped at dispatch
            else:
                self.cancelled.add(task_id)
                by_manager.setdefault(identity, []).append(task_id)
        for identity, ids in by_manager.items():
            self.workers.send_multipart([identity, protocol.CANCEL, protocol.dumps(ids)])

    def hold(self, block_ids: list[str]) -> None:
        """The executor is scaling these blocks in: send their managers nothing more and
        stop them once they are idle (a manager with tasks finishes them first)."""
        wanted = set(block_ids)
        for manager in list(self.managers.values()):
            if manager.block_id in wanted:
                manager.draining = manager.held = True
                self.room.pop(manager.identity, None)
                if not manager.tasks:
                    self.release(manager)

    def release(self, manager: ManagerState) -> None:
        """Stop a held manager and forget it."""
        self.workers.send_multipart([manager.identity, protocol.STOP, b""])
        self.forget(manager)

    def forget(self, manager: ManagerState) -> None:
        """Drop ``manager`` and tell the executor its node left."""
        self.managers.pop(manager.identity, None)
        self.room.pop(manager.identity, None)
        self.to_client(protocol.NODE, {**manager.node, "active": False})

    def dispatch(self, now: float) -> None:
        if not self.queue:
            return
        managers = len(self.managers)
        for manager in list(self.room.values()):
            free = manager.free(len(self.queue), managers)
            if not pacing.worth_sending(free, len(manager.tasks), manager.most, len(self.queue)):
                continue
            batch: list[tuple[tuple[int, Any], Any]] = []
            while self.queue and len(batch) < free:
                _, _, task_id, payload = heapq.heappop(self.queue)
                resources = self.resources.pop(task_id, None)
                if task_id in self.cancelled:
                    self.cancelled.discard(task_id)
                    continue
                batch.append(((task_id, resources), payload))
                manager.tasks.add(task_id)
                self.where[task_id] = manager.identity
            if batch:
                manager.idle_since = None
                frames = protocol.batch(
                    protocol.TASKS, [t for t, _ in batch], [p for _, p in batch]
                )
                self.workers.send_multipart([manager.identity, *frames], copy=False)
                if len(manager.tasks) >= manager.most:
                    self.room.pop(manager.identity, None)
            if not self.queue:
                return

    def expire_managers(self, now: float) -> None:
        if now - self.last_beat >= self.period:
            self.last_beat = now
            for manager in self.managers.values():
                self.workers.send_multipart([manager.identity, protocol.HB, b""])
        if now - self.last_expiry < self.expiry_interval:
            return
        self.last_expiry = now
        for identity, manager in list(self.managers.items()):
            silent = now - manager.last_heard
            if silent <= self.threshold:
                continue
            logger.error(
                "manager on %s (block %s) silent for %.0f s: dropped",
                manager.hostname,
                manager.block_id,
                silent,
            )
            self.forget(manager)
            error = pack(
                ManagerLost(
                    identity.decode(errors="replace"), manager.hostname, manager.block_id, silent
                )
            )
            for task_id in manager.tasks:
                self.where.pop(task_id, None)
                self.results.append((task_id, protocol.RESULT_ERR, None, manager.block_id))
                self.outcomes.append(error)

    def flush(self, now: float) -> None:
        if self.results and self.client_identity is not None:
            frames = protocol.batch(protocol.RESULTS, self.results, self.outcomes)
            self.client.send_multipart([self.client_identity, *frames], copy=False)
            self.results, self.outcomes = [], []
        if now - self.last_status >= min(self.period, 1.0):
            self.last_status = now
            self.to_client(protocol.STATUS, self.status(now))

    def status(self, now: float) -> dict[str, Any]:
        blocks: dict[str, dict[str, Any]] = {}
        for manager in self.managers.values():
            block = blocks.setdefault(manager.block_id, {"managers": 0, "tasks": 0, "idle": None})
            block["managers"] += 1
            block["tasks"] += len(manager.tasks)
            idle = now - manager.idle_since if manager.idle_since is not None else None
            if block["tasks"]:
                block["idle"] = None
            elif idle is not None:
                block["idle"] = idle if block["idle"] is None else min(block["idle"], idle)
        return {"blocks": blocks, "queued": len(self.queue), "dropped": self.dropped}

    def to_client(self, kind: bytes, body: Any) -> None:
        if self.client_identity is not None:
            self.client.send_multipart([self.client_identity, kind, protocol.dumps(body)])

    def close(self) -> None:
        for manager in self.managers.values():
            self.workers.send_multipart([manager.identity, protocol.STOP, b""])
        self.client.close(0)
        self.workers.close(100)
        if self.authenticator is not None:
            self.authenticator.stop()
        self.context.term()


def main() -> int:
    """Read the JSON config from stdin, print the ports, serve until stopped."""
    config = json.loads(sys.stdin.readline())
    logdir = config.get("logdir")
    if logdir:
        os.makedirs(logdir, exist_ok=True)
        logging.basicConfig(
            filename=os.path.join(logdir, "interchange.log"),
            level=logging.DEBUG if config.get("debug") else logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
        )
    interchange = Interchange(config)
    print(f"PORTS {interchange.ports[0]} {interchange.ports[1]}", flush=True)
    try:
        return interchange.run()
    finally:
        interchange.close()


if __name__ == "__main__":
    sys.exit(main())
