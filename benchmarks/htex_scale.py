#!/usr/bin/env python3
"""Scale benchmark of plait's HTEX interchange alone, against many simulated managers.

For each manager count N the script

1. starts the real interchange as the executor does (``python -m
   plait_executor_htex.interchange``, one JSON config line with a fresh token on
   stdin, ``PORTS <client> <worker>`` read back from stdout);
2. connects as the executor (a DEALER on the client port, ``HELLO`` with the token);
3. connects N simulated managers from this one process: real ZeroMQ DEALER
   sockets on the worker port, each registering with ``REG`` JSON as
   ``manager.py`` does (token, ``protocol.versions()``, ``workers=20``,
   ``prefetch=0``) and waiting for ``OK``;
4. runs one warm-up round (N x 20 tasks), then sends T = max(--min-tasks,
   --rounds x N x 20) tiny tasks at once from the client (pre-built ``TASKS``
   batches of --client-batch) and times from the first send to the last result.
   The managers are an echo loop over one ``zmq.Poller``: every ``TASKS`` batch is
   answered at once with a ``RESULTS`` batch of the same payloads;
5. sends ``STOP`` and waits for the interchange to exit (terminate, then kill, if
   it does not).

Reported per N: wall microseconds per task (1e6 / tasks/s), tasks/s, and the CPU
seconds the interchange process and this harness process spent during the timed
window, per task (from /proc/<pid>/stat and ``time.process_time()``): the
interchange's CPU per task is its dispatch cost whatever the harness's speed. The
machine has few cores, so the interchange (plus its ZeroMQ I/O thread) and this
harness (plus its own) share them; the harness figure shows which side was busy.

Each simulated manager costs file descriptors in both processes (about two here:
socket + mailbox; one in the interchange), so the soft ``RLIMIT_NOFILE`` is raised
toward the hard limit first; a manager count that does not fit is skipped and
reported. ``--profile`` also runs the interchange under cProfile once per N (a
separate, slower run) and saves the top functions to results/htex-scale-profile-N.txt.

    uv run python benchmarks/htex_scale.py [--managers 10,50,100,500,1000,2000]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import secrets
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq
from side_by_side import plait_commit  # this directory is on sys.path for a script

from plait_executor_htex import protocol

HERE = Path(__file__).resolve().parent
WORKERS = 20
PAYLOAD = b"\x80\x05N."  # 4 bytes (a pickled None): a tiny payload
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: seconds without a single result after which a run is declared stuck
STALL_S = 60.0


@functools.cache
def _headers_carry_walltime() -> bool:
    from plait_executor_htex import executor

    return "walltime" in getattr(executor, "_ACCEPTED_RESOURCES", ())


def task_header(task_id: int) -> tuple[Any, ...]:
    """One task's entry in a client TASKS header, as this plait's executor writes it:
    ``(id, priority, walltime)`` since the executor accepts a walltime, ``(id, priority)``
    before."""
    return (task_id, 0, None) if _headers_carry_walltime() else (task_id, 0)


def header_id(entry: Any) -> int:
    """The task id of one entry of a TASKS header sent to a manager (an id, or a tuple
    starting with it, e.g. ``(id, walltime)``)."""
    return entry[0] if isinstance(entry, tuple) else int(entry)


#: file descriptors per simulated manager in this process (TCP + mailbox), with margin
FDS_PER_MANAGER = 3
FD_RESERVE = 256


# -- process helpers ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def raise_fd_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE toward ``wanted`` (at most the hard limit);
    the (soft, hard) limits in force afterwards. Children inherit them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def fds_needed(managers: int) -> int:
    """File descriptors this process needs for ``managers`` simulated managers."""
    return FDS_PER_MANAGER * managers + FD_RESERVE


class Interchange:
    """The real interchange in a subprocess, started the way the executor starts it."""

    def __init__(self, logdir: str, profile_to: str | None = None) -> None:
        self.token = secrets.token_hex(16)
        config = {
            "token": self.token,
            "address": "127.0.0.1",
            "worker_port": None,
            "worker_port_range": [54000, 55000],
            "heartbeat_period": 30.0,
            "heartbeat_threshold": 120.0,
            "poll_ms": 10,
            "logdir": logdir,
            "debug": False,
            "cert_dir": None,
        }
        prefix = [sys.executable]
        if profile_to:
            prefix += ["-m", "cProfile", "-o", profile_to]
        with open(os.path.join(logdir, "interchange.stderr"), "wb") as stderr:
            self.proc = subprocess.Popen(
                [*prefix, "-m", "plait_executor_htex.interchange"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(config).encode() + b"\n")
        self.proc.stdin.close()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORTS "):
            self.stop(timeout=1)
            raise RuntimeError(
                f"the interchange did not start: {line!r}; see {logdir}/interchange.stderr"
            )
        self.client_port, self.worker_port = (int(p) for p in line.split()[1:3])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> str:
        """Wait for it to exit (after STOP), terminate, then kill; how it ended."""
        how = "exited"
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            how = "terminated"
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                how = "killed"
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return f"{how} (status {self.proc.returncode})"


# -- the harness --------------------------------------------------------------------


class Harness:
    """One client socket and N simulated managers, all served by one Poller loop."""

    def __init__(self, ix: Interchange, managers: int) -> None:
        self.ix = ix
        self.context: zmq.Context[Any] = zmq.Context()
        self.context.set(zmq.MAX_SOCKETS, managers + 64)
        self.poller = zmq.Poller()
        self.client = self.context.socket(zmq.DEALER)
        self.client.setsockopt(zmq.LINGER, 0)
        self.client.setsockopt(zmq.SNDHWM, 0)
        self.client.setsockopt(zmq.RCVHWM, 0)
        self.client.connect(f"tcp://127.0.0.1:{ix.client_port}")
        self.client.send_multipart([protocol.HELLO, protocol.dumps_json({"token": ix.token})])
        self.poller.register(self.client, zmq.POLLIN)
        self.managers: list[zmq.Socket[Any]] = []
        self.hostname = socket.gethostname()
        self.n = managers
        self.received = 0
        self.manager_messages = 0
        self.last_client_hb = time.monotonic()

    def register(self, timeout: float = 120.0) -> float:
        """Connect and register every manager; seconds until the last OK."""
        start = time.perf_counter()
        for i in range(self.n):
            sock = self.context.socket(zmq.DEALER)
            uid = f"sim{i:05d}"
            sock.setsockopt(zmq.IDENTITY, uid.encode())
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(f"tcp://127.0.0.1:{self.ix.worker_port}")
            sock.send_multipart(
                [
                    protocol.REG,
                    protocol.dumps_json(
                        {
                            "token": self.ix.token,
                            "versions": protocol.versions(),
                            "uid": uid,
                            "hostname": self.hostname,
                            "block_id": "0",
                            "workers": WORKERS,
                            "prefetch": 0,
                            "pid": os.getpid(),
                        }
                    ),
                ]
            )
            self.managers.append(sock)
        pending = set(self.managers)
        reg_poller = zmq.Poller()
        for sock in self.managers:
            reg_poller.register(sock, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} of {self.n} managers got no answer")
            for sock, _ in reg_poller.poll(1000):
                while sock.poll(0):
                    kind, *_ = sock.recv_multipart()
                    if kind == protocol.OK:
                        pending.discard(sock)
                    elif kind == protocol.REFUSED:
                        raise RuntimeError(f"manager refused: {_!r}")
        for sock in self.managers:
            self.poller.register(sock, zmq.POLLIN)
        return time.perf_counter() - start

    def poll_cost_us(self, count: int = 200) -> float:
        """Median microseconds of one empty ``poll(0)`` over every socket: the harness's own
        per-wakeup cost, which grows with N and is part of every measured round trip."""
        times = []
        for _ in range(count):
            start = time.perf_counter()
            self.poller.poll(0)
            times.append((time.perf_counter() - start) * 1e6)
        return statistics.median(times)

    def task_batches(self, first_id: int, count: int, size: int) -> list[list[bytes]]:
        """Pre-built TASKS messages for ids first_id .. first_id + count - 1."""
        out = []
        for start in range(first_id, first_id + count, size):
            ids = range(start, min(start + size, first_id + count))
            header = [task_header(i) for i in ids]
            out.append(protocol.batch(protocol.TASKS, header, [PAYLOAD] * len(ids)))
        return out

    def run(self, batches: list[list[bytes]], count: int) -> float:
        """Send the batches, echo every task at the managers; seconds to the last result."""
        self.received = 0
        start = time.perf_counter()
        for frames in batches:
            self.client.send_multipart(frames, copy=False)
        progress, last_progress = 0, time.monotonic()
        while self.received < count:
            if self.received != progress:
                progress, last_progress = self.received, time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise RuntimeError(
                    f"stuck: {self.received} of {count} results, none for {STALL_S:.0f} s "
                    "(a protocol change? see the interchange log)"
                )
            for sock, _ in self.poller.poll(1000):
                if sock is self.client:
                    self.on_client()
                else:
                    self.on_manager(sock)
            now = time.monotonic()
            if now - self.last_client_hb > 10:
                self.client.send_multipart([protocol.HB, b""])
                self.last_client_hb = now
        return time.perf_counter() - start

    def roundtrips(self, count: int, first_id: int) -> list[float]:
        """One task at a time, submit to result, ``count`` times; microseconds each."""
        times = []
        for i in range(count):
            frames = protocol.batch(protocol.TASKS, [task_header(first_id + i)], [PAYLOAD])
            start = time.perf_counter()
            self.run([frames], 1)
            times.append((time.perf_counter() - start) * 1e6)
        return times

    def on_client(self) -> None:
        while True:
            try:
                frames = self.client.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frames[0] == protocol.RESULTS:
                unpacked = protocol.unbatch(frames[1:])
                if unpacked is None:
                    raise RuntimeError("malformed RESULTS from the interchange")
                self.received += len(unpacked[0])
            elif frames[0] == protocol.REFUSED:
                raise RuntimeError(f"interchange refused a manager: {protocol.loads(frames[1])}")

    def on_manager(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            kind = frames[0]
            if kind == protocol.TASKS:
                unpacked = protocol.unbatch(frames[1:])
                if unpacked is None:
                    raise RuntimeError("malformed TASKS from the interchange")
                ids, payloads = unpacked
                self.manager_messages += 1
                sock.send_multipart(
                    protocol.batch(
                        protocol.RESULTS,
                        [(header_id(i), protocol.RESULT_OK, 0.0) for i in ids],
                        payloads,
                    ),
                    copy=False,
                )
            elif kind == protocol.HB:
                sock.send_multipart([protocol.HB, b""])

    def stop_interchange(self) -> None:
        """Ask the interchange to stop (it sends STOP to every manager and exits)."""
        self.client.send_multipart([protocol.STOP, b""])

    def close(self) -> None:
        for sock in self.managers:
            sock.close(0)
        self.client.close(0)
        self.context.term()


def idle_cpu_share(pid: int, seconds: float) -> float:
    """Share of one core the process uses while nothing is sent to it."""
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)


def loop_overhead_us(n: int, repeats: int = 200) -> dict[str, float]:
    """Microseconds the interchange's per-iteration bookkeeping takes with n registered
    (idle or full) managers, timed in this process on a real ``Interchange`` object:
    ``expire_managers`` (runs every loop iteration, walks every manager) and ``dispatch``
    with one queued task while every manager is full (walks every manager's ``free()``)."""
    from plait_executor_htex.interchange import Interchange as RealInterchange
    from plait_executor_htex.interchange import ManagerState

    config = {"token": "x", "heartbeat_threshold": 120.0, "heartbeat_period": 30.0}
    real = RealInterchange(config)
    try:
        now = time.monotonic()
        for i in range(n):
            identity = f"sim{i:05d}".encode()
            real.managers[identity] = ManagerState(identity, "h", "0", WORKERS, 0, now)
        real.last_beat = now  # no heartbeat sends inside the timed calls
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            real.expire_managers(now)
            times.append((time.perf_counter() - start) * 1e6)
        expire = statistics.median(times)
        for manager in real.managers.values():
            manager.tasks = set(range(WORKERS))
        real.queue = [(0, 0, 10**9, PAYLOAD)]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            real.dispatch(now)
            times.append((time.perf_counter() - start) * 1e6)
        full = statistics.median(times)
    finally:
        real.managers.clear()
        real.close()
    return {"expire_managers_us": expire, "dispatch_all_full_us": full}


# -- one manager count --------------------------------------------------------------


def measure(n: int, args: argparse.Namespace, profile_to: str | None = None) -> dict[str, Any]:
    """Start an interchange, register n managers, time the runs, stop everything."""
    tasks = max(args.min_tasks, args.rounds * n * WORKERS)
    with tempfile.TemporaryDirectory(prefix="htex-scale-") as logdir:
        ix = Interchange(logdir, profile_to)
        harness: Harness | None = None
        ended = "not stopped"
        try:
            harness = Harness(ix, n)
            register_s = harness.register()
            poll_us = harness.poll_cost_us()
            warm = harness.task_batches(0, n * WORKERS, args.client_batch)
            harness.run(warm, n * WORKERS)
            runs = []
            next_id = n * WORKERS
            for _ in range(args.repeats):
                batches = harness.task_batches(next_id, tasks, args.client_batch)
                next_id += tasks
                messages_before = harness.manager_messages
                ix_cpu0, me_cpu0 = cpu_seconds(ix.pid), time.process_time()
                elapsed = harness.run(batches, tasks)
                ix_cpu = cpu_seconds(ix.pid) - ix_cpu0
                me_cpu = time.process_time() - me_cpu0
                runs.append(
                    {
                        "elapsed_s": elapsed,
                        "tasks_per_s": tasks / elapsed,
                        "wall_us_per_task": elapsed / tasks * 1e6,
                        "interchange_cpu_us_per_task": ix_cpu / tasks * 1e6,
                        "harness_cpu_us_per_task": me_cpu / tasks * 1e6,
                        "interchange_cpu_share": ix_cpu / elapsed,
                        "harness_cpu_share": me_cpu / elapsed,
                        "tasks_per_manager_batch": tasks
                        / max(1, harness.manager_messages - messages_before),
                    }
                )
            harness.roundtrips(args.rt_warmup, next_id)
            next_id += args.rt_warmup
            ix_cpu0 = cpu_seconds(ix.pid)
            rt = sorted(harness.roundtrips(args.rt_count, next_id))
            rt_ix_cpu = (cpu_seconds(ix.pid) - ix_cpu0) / args.rt_count * 1e6
            ix_rss = rss_mib(ix.pid)
            idle = idle_cpu_share(ix.pid, args.idle_seconds)
            harness.stop_interchange()
        finally:
            ended = ix.stop()
            if harness is not None:
                harness.close()
        interchange_stderr = Path(logdir, "interchange.stderr").read_text().strip()
    best = min(runs, key=lambda r: r["elapsed_s"])
    median = {
        k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)
    }
    return {
        "managers": n,
        "workers": n * WORKERS,
        "tasks": tasks,
        "register_s": register_s,
        "roundtrip_median_us": statistics.median(rt),
        "roundtrip_p90_us": rt[int(0.9 * (len(rt) - 1))],
        "roundtrip_interchange_cpu_us": rt_ix_cpu,
        "harness_poll_us": poll_us,
        "interchange_idle_cpu_share": idle,
        **loop_overhead_us(n),
        "interchange_rss_mib": ix_rss,
        "interchange_ended": ended,
        "interchange_stderr": interchange_stderr[-2000:],
        "median": median,
        "best": best,
        "runs": runs,
    }


def profile(n: int, args: argparse.Namespace) -> str:
    """Run one measurement with the interchange under cProfile; the top of its profile."""
    import io
    import pstats

    out = HERE / "results" / f"htex-scale-profile-{n}.prof"
    one = argparse.Namespace(**{**vars(args), "repeats": 1})
    result = measure(n, one, str(out))
    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(15)
    text = (
        f"interchange under cProfile, {n} managers x {WORKERS} workers, "
        f"{result['tasks']:,} tasks, {result['median']['tasks_per_s']:,.0f} tasks/s "
        f"(slowed by the profiler)\n\n" + buf.getvalue()
    )
    (HERE / "results" / f"htex-scale-profile-{n}.txt").write_text(text)
    out.unlink(missing_ok=True)
    return text


# -- driver -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", default="10,50,100,500,1000,2000")
    parser.add_argument("--rounds", type=int, default=20, help="T = rounds x managers x 20")
    parser.add_argument("--min-tasks", type=int, default=100_000)
    parser.add_argument("--client-batch", type=int, default=1000, help="tasks per TASKS message")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per manager count")
    parser.add_argument("--rt-count", type=int, default=1000, help="single-task round trips")
    parser.add_argument("--rt-warmup", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true", help="also profile the interchange")
    parser.add_argument("--out", default=str(HERE / "results" / "htex-scale.json"))
    args = parser.parse_args()
    counts = [int(c) for c in args.managers.split(",")]

    soft0, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = raise_fd_limit(fds_needed(max(counts)))
    fd_note = f"RLIMIT_NOFILE soft {soft0} -> {soft} (hard {hard})"
    skipped = [n for n in counts if fds_needed(n) > soft]
    if skipped:
        fd_note += (
            f"; skipped {skipped} managers: they need about {fds_needed(max(skipped))} file "
            f"descriptors, more than the hard limit allows (raise it with ulimit -Hn as root)"
        )
    print(fd_note, file=sys.stderr)

    rows = []
    for n in counts:
        if n in skipped:
            continue
        print(f"{n} managers ...", file=sys.stderr, flush=True)
        row = measure(n, args)
        rows.append(row)
        m = row["median"]
        print(
            f"  {row['tasks']:,} tasks: {m['tasks_per_s']:,.0f} tasks/s, "
            f"{m['wall_us_per_task']:.1f} us/task wall, "
            f"interchange {m['interchange_cpu_us_per_task']:.1f} us/task CPU, "
            f"round trip {row['roundtrip_median_us']:.0f} us "
            f"(interchange CPU {row['roundtrip_interchange_cpu_us']:.0f} us), "
            f"interchange {row['interchange_ended']}",
            file=sys.stderr,
            flush=True,
        )
    profiles = {}
    if args.profile:
        for n in counts:
            if n not in skipped:
                print(f"profiling {n} managers ...", file=sys.stderr, flush=True)
                profiles[n] = profile(n, args)

    meta = {
        "commit": plait_commit(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "workers_per_manager": WORKERS,
        "prefetch": 0,
        "client_batch": args.client_batch,
        "repeats": args.repeats,
        "fd_limits": fd_note,
        "skipped": skipped,
        "loadavg_end": os.getloadavg(),
    }
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))

    print(
        f"Interchange alone, {WORKERS} workers per simulated manager, prefetch 0, tiny tasks "
        f"sent at once in batches of {args.client_batch:,}; median of {args.repeats} runs; "
        f"plait commit {meta['commit']}, {meta['cpus']} CPUs, Python {meta['python']}, "
        f"libzmq {meta['libzmq']}. {fd_note}.\n"
    )
    print(
        "| managers (workers) | tasks | tasks/s | wall us/task | interchange CPU us/task | "
        "harness CPU us/task | tasks per TASKS batch | 1-task round trip median (us) | "
        "interchange CPU per round trip (us) | harness poll() over all sockets (us) | "
        "registration (s) | interchange RSS (MiB) | interchange idle CPU (%) | "
        "expire_managers() per loop (us) | dispatch() all full (us) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        m = row["median"]
        print(
            f"| {row['managers']:,} ({row['workers']:,}) | {row['tasks']:,} | "
            f"{m['tasks_per_s']:,.0f} | {m['wall_us_per_task']:.1f} | "
            f"{m['interchange_cpu_us_per_task']:.1f} | {m['harness_cpu_us_per_task']:.1f} | "
            f"{m['tasks_per_manager_batch']:.1f} | {row['roundtrip_median_us']:.0f} | "
            f"{row['roundtrip_interchange_cpu_us']:.0f} | {row['harness_poll_us']:.0f} | "
            f"{row['register_s']:.2f} | "
            f"{row['interchange_rss_mib']:.0f} | {100 * row['interchange_idle_cpu_share']:.1f} | "
            f"{row['expire_managers_us']:.0f} | {row['dispatch_all_full_us']:.0f} |"
        )
    if len(rows) >= 2:
        lo, hi = rows[0], rows[-1]
        for key in ("wall_us_per_task", "interchange_cpu_us_per_task", "roundtrip_median_us"):
            ratio = (hi["median"].get(key) or hi[key]) / (lo["median"].get(key) or lo[key])
            print(
                f"\n{key}: {hi['managers']:,} managers / {lo['managers']:,} managers = "
                f"{ratio:.2f}x ({'within' if ratio <= 2 else 'NOT within'} 2x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
