"""A private Slurm cluster on this machine, for tests: munged, MariaDB, slurmdbd,
slurmctld and one slurmd per emulated node, all under one temporary directory.

Nothing is written outside that directory: every daemon and client reads the
configuration through ``SLURM_CONF`` (never ``/etc/slurm``), talks to a private
munged through its own socket, and listens on ports picked at run time, so
several clusters (one per pytest-xdist worker) run side by side.

Daemons run in the foreground as children of this process and are stopped by
their PID. :meth:`SlurmCluster.stop` cancels every job first, waits for the
queue to empty, stops the daemons, kills any job process left behind (found by
this cluster's ``SLURM_CONF`` in its environment) and removes the directory.

Needs Debian's ``slurmctld slurmd slurmdbd slurm-client munge mariadb-server``
and root (the daemons run as root, munged and mariadbd as their own users).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

#: Debian packages the cluster is made of.
DEBIAN_PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "slurm-client", "munge", "mariadb-server")

_PROGRAMS = {
    "munged": "munge",
    "mungekey": "munge",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "slurmdbd": "slurmdbd",
    "sbatch": "slurm-client",
    "sacct": "slurm-client",
    "sacctmgr": "slurm-client",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
}
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")

DB_PASSWORD = "plait-test-only"


class ClusterError(RuntimeError):
    """The private cluster did not start; the message quotes the failing daemon's log."""


def _which(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for directory in _SBIN:
        path = os.path.join(directory, program)
        if os.access(path, os.X_OK):
            return path
    return None


def missing_requirements() -> str | None:
    """Why a private cluster cannot run here (None if it can)."""
    missing = sorted({pkg for prog, pkg in _PROGRAMS.items() if _which(prog) is None})
    if missing:
        return "Slurm is not installed: apt-get install -y --no-install-recommends " + " ".join(
            missing
        )
    if os.geteuid() != 0:
        return "a private Slurm cluster needs root (slurmd runs jobs as their user)"
    for user in ("munge", "mysql"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"user {user!r} is missing (installed by the munge/mariadb-server packages)"
    return None


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _poll(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not reached within {timeout:g} s")
        time.sleep(interval)


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return "(no log)"
    return data[-limit:].decode(errors="replace").strip()


class SlurmCluster:
    """A private Slurm cluster with accounting.

    :param nodes: emulated nodes (one slurmd each), named ``node1``...``nodeN``.
    :param cpus_per_node: CPUs each emulated node advertises.
    :param accounting: run slurmdbd and MariaDB so ``sacct`` works; without it
        ``sacct`` says "Slurm accounting storage is disabled".
    :param root: parent of the cluster's directory (short: Unix socket paths
        must stay under 108 bytes).

    Use it as a context manager or call :meth:`start` and :meth:`stop`. While it
    runs, :attr:`env` is the environment Slurm clients need (``SLURM_CONF``).
    """

    def __init__(
        self,
        nodes: int = 2,
        cpus_per_node: int = 4,
        accounting: bool = True,
        root: str = "/tmp",
        partition: str = "debug",
    ) -> None:
        self.nodes = [f"node{i}" for i in range(1, nodes + 1)]
        self.cpus_per_node = cpus_per_node
        self.accounting = accounting
        self.partition = partition
        self.root = root
        self.hostname = socket.gethostname().split(".")[0]
        self.cluster_name = "plait"
        self.dir = Path()
        self.conf = Path()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.started = False
        self.start_seconds = 0.0

    # -- environment and commands -----------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus this cluster's ``SLURM_CONF``."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(
        self, *args: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against this cluster."""
        result = subprocess.run(
            list(args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(
                f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def queue(self, all_states: bool = False) -> dict[str, str]:
        """``job id -> state`` of the jobs ``squeue`` lists (only active ones unless
        ``all_states``)."""
        args = ["squeue", "-h", "-o", "%i|%T"]
        if all_states:
            args.append("--states=all")
        out = self.run(*args).stdout
        return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)

    def idle_nodes(self) -> list[str]:
        out = self.run("sinfo", "-h", "-N", "-t", "idle", "-o", "%N", check=False).stdout
        return sorted(set(out.split()))

    # -- start --------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start every daemon; returns once all nodes are idle, (with accounting)
        ``sacct`` answers and a first, empty job has completed. Anything started is
        stopped again if a step fails."""
        reason = missing_requirements()
        if reason:
            raise ClusterError(reason)
        began = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="psl-", dir=self.root))
        self.dir.chmod(0o755)  # munged and mariadbd run as their own users
        self.conf = self.dir / "slurm.conf"
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        self.started = True
        self.start_seconds = time.monotonic() - began

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        nodes = (f"{kind}/{n}" for n in self.nodes for kind in ("spool", "tmp"))
        for sub in ("log", "state", "munge", "db", *nodes):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        ports = free_ports(3 + len(self.nodes))
        self.ctld_port, self.dbd_port, self.db_port = ports[:3]
        self.node_ports = ports[3:]
        self.munge_socket = self.dir / "munge" / "sock"
        install = self._start_munge_and_install_db() if self.accounting else None
        self._start_munge_and_install_db_wait(install, deadline)
        self._write_slurm_conf()
        if self.accounting:
            self._start_mariadb(deadline)
            self._start_slurmdbd(deadline)
        self._daemon("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        for node in self.nodes:
            self._daemon(f"slurmd-{node}", ["slurmd", "-D", "-N", node, "-f", str(self.conf)])
        slurm_daemons = ("slurmctld", *(f"slurmd-{n}" for n in self.nodes))
        self._wait(
            lambda: self.idle_nodes() == sorted(self.nodes),
            deadline,
            f"nodes {self.nodes} idle",
            slurm_daemons,
        )
        first_job = self._submit_first_job()
        if self.accounting:
            self._wait(
                lambda: self.run("sacct", "-n", "-X", "-o", "jobid", check=False).returncode == 0,
                deadline,
                "sacct answering",
                ("slurmdbd", "slurmctld"),
            )
        self._wait(
            lambda: self.queue(all_states=True).get(first_job) == "COMPLETED",
            deadline,
            f"the first job ({first_job}) completing",
            slurm_daemons,
        )

    def _submit_first_job(self) -> str:
        """Submit an empty job; :meth:`start` returns once it has completed.

        It proves that jobs run, and it gets slurmctld past its start-up: until its
        first scheduling pass, which is also when it reads ``SchedulerParameters``,
        slurmctld holds batch jobs for its built-in ``batch_sched_delay`` of 3 s counted
        from its own start. Without this, the first job of every fresh cluster pends
        about 3 s, a delay no long-running production controller has.
        """
        out = self.run(
            "sbatch",
            "--parsable",
            "--job-name=plait-cluster-ready",
            "--output=/dev/null",
            "--time=1",
            "--wrap=true",
        ).stdout
        return out.strip().split(";", 1)[0]

    def _start_munge_and_install_db(self) -> subprocess.Popen[bytes]:
        """Start MariaDB's data-directory set-up in the background (it takes a few seconds)."""
        db = self.dir / "db"
        (db / "run").mkdir(exist_ok=True)
        (db / "tmp").mkdir(exist_ok=True)  # never /tmp: concurrent servers clash there
        shutil.chown(db / "tmp", "mysql", "mysql")
        shutil.chown(db, "mysql", "mysql")
        shutil.chown(db / "run", "mysql", "mysql")
        log = self.dir / "log" / "mariadb-install.log"
        with open(log, "wb") as out:
            return subprocess.Popen(
                [
                    _which("mariadb-install-db") or "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={db / 'data'}",
                    "--user=mysql",
                    "--skip-test-db",
                    f"--tmpdir={db / 'tmp'}",
                    "--auth-root-authentication-method=socket",
                    "--innodb-log-file-size=4M",
                    "--innodb-buffer-pool-size=16M",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _start_munge_and_install_db_wait(
        self, install: subprocess.Popen[bytes] | None, deadline: float
    ) -> None:
        munge = self.dir / "munge"
        key = munge / "key"
        subprocess.run(
            [_which("mungekey") or "mungekey", "-c", "-k", str(key)],
            check=True,
            capture_output=True,
        )
        for path in (munge, key):
            shutil.chown(path, "munge", "munge")
        munge.chmod(0o755)
        key.chmod(0o400)
        self._daemon(
            "munged",
            [
                "setpriv",
                "--reuid=munge",
                "--regid=munge",
                "--init-groups",
                _which("munged") or "munged",
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'seed'}",
                f"--log-file={munge / 'munged.log'}",
            ],
        )
        self._wait(self.munge_socket.exists, deadline, "munged's socket", ("munged",))
        if install is not None:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                code = install.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                install.kill()
                install.wait()
                code = -9
            if code != 0:
                raise ClusterError(
                    f"mariadb-install-db exited {code}: "
                    f"{_tail(self.dir / 'log' / 'mariadb-install.log')}"
                )

    def _start_mariadb(self, deadline: float) -> None:
        db = self.dir / "db"
        self._daemon(
            "mariadbd",
            [
                _which("mariadbd") or "mariadbd",
                "--no-defaults",
                "--user=mysql",
                f"--datadir={db / 'data'}",
                f"--socket={db / 'run' / 'sock'}",
                f"--pid-file={db / 'run' / 'mariadbd.pid'}",
                f"--port={self.db_port}",
                f"--tmpdir={db / 'tmp'}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
            ],
        )

        def listening() -> bool:
            with contextlib.closing(socket.socket()) as s:
                s.settimeout(0.2)
                return s.connect_ex(("127.0.0.1", self.db_port)) == 0

        self._wait(listening, deadline, "MariaDB listening", ("mariadbd",))
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
            "GRANT ALL ON *.* TO 'slurm'@'127.0.0.1';"
        )
        self.run(
            _which("mariadb") or "mariadb",
            "--no-defaults",
            f"--socket={db / 'run' / 'sock'}",
            "-u",
            "root",
            "-e",
            sql,
        )

    def _start_slurmdbd(self, deadline: float) -> None:
        dbd_conf = self.dir / "slurmdbd.conf"
        dbd_conf.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    f"DbdHost={self.hostname}",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self.dbd_port}",
                    "SlurmUser=root",
                    f"PidFile={self.dir / 'slurmdbd.pid'}",
                    f"LogFile={self.dir / 'log' / 'slurmdbd.log'}",
                    "DebugLevel=info",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.db_port}",
                    "StorageUser=slurm",
                    f"StoragePass={DB_PASSWORD}",
                    "StorageLoc=slurm_acct_db",
                    "",
                ]
            )
        )
        dbd_conf.chmod(0o600)
        self._daemon("slurmdbd", ["slurmdbd", "-D"])
        self._wait(
            lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
            deadline,
            "slurmdbd answering",
            ("slurmdbd", "mariadbd"),
        )
        self.run("sacctmgr", "-i", "add", "cluster", self.cluster_name)

    def _write_slurm_conf(self) -> None:
        d = self.dir
        lines = [
            f"ClusterName={self.cluster_name}",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={self.ctld_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "CredType=cred/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=30",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            # a batch job waits for slurmctld's next scheduling pass (its main loop runs
            # once a second): at most batch_sched_delay seconds after the previous pass,
            # 3 by default. Small and interactive clusters set it lower, as here.
            "SchedulerParameters=batch_sched_delay=1",
            "KillWait=2",  # SIGTERM to SIGKILL at the walltime (default 30 s)
            "OverTimeLimit=0",  # the walltime is a hard limit (Slurm's default, made explicit)
            "MinJobAge=300",
            "InactiveLimit=0",
            "MessageTimeout=10",
            "SlurmctldTimeout=60",
            "SlurmdTimeout=60",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool' / '%n'}",
            # one per emulated node, as on real nodes (Open MPI's PMIx keeps per-job
            # directories there: shared, two nodes' ranks of one job clash)
            f"TmpFS={d / 'tmp' / '%n'}",
            f"SlurmctldPidFile={d / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'slurmd-%n.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'log' / 'slurmd-%n.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "JobCompType=jobcomp/none",
        ]
        if self.accounting:
            lines += [
                "AccountingStorageType=accounting_storage/slurmdbd",
                f"AccountingStorageHost={self.hostname}",
                f"AccountingStoragePort={self.dbd_port}",
                f"AccountingStoragePass={self.munge_socket}",
            ]
        else:
            lines.append("AccountingStorageType=accounting_storage/none")
        for node, port in zip(self.nodes, self.node_ports, strict=True):
            lines.append(
                f"NodeName={node} NodeHostname={self.hostname} NodeAddr=127.0.0.1 Port={port} "
                f"CPUs={self.cpus_per_node} RealMemory=4000 State=UNKNOWN"
            )
        lines.append(
            f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
        )
        self.conf.write_text("\n".join(lines) + "\n")

    def _daemon(self, name: str, argv: list[str]) -> None:
        log = self.dir / "log" / f"{name}.out"
        self.logs[name] = log
        with open(log, "wb") as out:
            self.procs[name] = subprocess.Popen(
                argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.dir,
            )

    def _wait(
        self, predicate: Callable[[], object], deadline: float, what: str, daemons: tuple[str, ...]
    ) -> None:
        def check() -> object:
            for name in daemons:
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise ClusterError(
                        f"{name} exited {proc.returncode} before {what}:\n{self._logs(name)}"
                    )
            return predicate()

        try:
            _poll(check, max(0.5, deadline - time.monotonic()), what)
        except ClusterError as exc:
            if "not reached" in str(exc):
                detail = "\n".join(self._logs(name) for name in daemons)
                raise ClusterError(f"{exc}\n{detail}") from None
            raise

    def _logs(self, name: str) -> str:
        paths = [self.logs.get(name)]
        if name.startswith("slurmd-") or name in ("slurmctld", "slurmdbd"):
            paths.append(self.dir / "log" / f"{name}.log")
        elif name == "munged":
            paths.append(self.dir / "munge" / "munged.log")
        return "\n".join(f"--- {p}:\n{_tail(p)}" for p in paths if p is not None)

    # -- stop ---------------------------------------------------------------

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every job, wait for the queue to empty, stop the daemons by PID, kill
        leftover job processes, remove the directory. Safe to call more than once."""
        if not self.procs and not self.dir.name:
            return
        deadline = time.monotonic() + timeout
        ctld = self.procs.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            try:
                self.run("scancel", "--user=root", check=False, timeout=10)
                _poll(
                    lambda: not self.queue(),
                    max(1.0, deadline - time.monotonic() - 10),
                    "an empty queue",
                    0.2,
                )
            except (ClusterError, subprocess.SubprocessError, OSError):
                pass
        # slurmd before slurmctld, slurmdbd before its database, munged last
        order = [n for n in self.procs if n.startswith("slurmd-")]
        order += [n for n in ("slurmctld", "slurmdbd", "mariadbd", "munged") if n in self.procs]
        for name in order:
            self._stop_daemon(self.procs[name], max(2.0, deadline - time.monotonic()))
        self.procs.clear()
        if self.conf.name:
            self.sweep()
        if self.dir.name and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = Path()
        self.started = False

    @staticmethod
    def _stop_daemon(proc: subprocess.Popen[bytes], timeout: float) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=min(timeout, 10.0))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        # a daemon's own helpers (slurmstepd left by a stopped slurmd) share its session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def job_processes(self) -> list[int]:
        """Processes (not zombies) whose environment holds this cluster's ``SLURM_CONF``."""
        marker = f"SLURM_CONF={self.conf}".encode()
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                continue
            if marker in environ and _alive(int(name)):
                found.append(int(name))
        return found

    def sweep(self) -> list[int]:
        """SIGKILL every process left that belongs to this cluster; returns their PIDs."""
        pids = self.job_processes()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ClusterError):
            _poll(lambda: not any(_alive(p) for p in pids), 5.0, "swept processes gone")
        return pids


@contextlib.contextmanager
def slurm_environment(cluster: SlurmCluster) -> Iterator[Mapping[str, str]]:
    """Point this process (and everything it starts) at ``cluster`` while the block runs."""
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield os.environ
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
