"""SlurmProvider and the srun launchers against the private Slurm cluster (with slurmdbd,
so ``sacct`` reads the accounting database)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plait.errors import SubmitException
from plait.launchers.base import Launcher
from plait.launchers.simple import SimpleLauncher
from plait.providers.base import ExecutionProvider, JobState
from plait.testing import LauncherContract, ProviderContract, wait_until
from plait_provider_slurm import SlurmProvider, SrunLauncher, SrunMPILauncher
from plait_provider_slurm.cluster import SlurmCluster

TIMEOUT = 30.0


def make_provider(tmp_path: Path, **kwargs: object) -> SlurmProvider:
    kwargs.setdefault("launcher", SimpleLauncher())
    kwargs.setdefault("status_polling_interval", 0.2)
    kwargs.setdefault("walltime", "00:05:00")
    return SlurmProvider(script_dir=str(tmp_path / "scripts"), **kwargs)  # type: ignore[arg-type]


def wait_state(
    provider: SlurmProvider, job_id: str, *states: JobState, timeout: float = TIMEOUT
) -> object:
    return wait_until(
        lambda: (s := provider.status([job_id])[0]).state in states and s,
        timeout,
        0.1,
        what=f"job {job_id} in {[s.name for s in states]}",
    )


class TestSlurmProviderContract(ProviderContract):
    timeout = TIMEOUT
    poll_interval = 0.1

    @pytest.fixture
    def provider(self, slurm_conf: SlurmCluster, tmp_path: Path) -> ExecutionProvider:
        return make_provider(tmp_path)


class TestSrunLauncherContract(LauncherContract):
    expected_copies = 2

    @pytest.fixture
    def launcher(self, slurm_conf: SlurmCluster) -> Launcher:
        return SrunLauncher()


class TestSrunMPILauncherContract(LauncherContract):
    expected_copies = 2

    @pytest.fixture
    def launcher(self, slurm_conf: SlurmCluster) -> Launcher:
        return SrunMPILauncher()


def test_srun_launcher_in_a_two_node_job(slurm_conf: SlurmCluster, tmp_path: Path) -> None:
    """Inside a 2-node block, SrunLauncher runs one copy per node with distinct ranks."""
    provider = make_provider(tmp_path, nodes_per_block=2, launcher=SrunLauncher())
    out = tmp_path / "runs"
    out.mkdir()
    command = f'echo "$SLURMD_NODENAME $PLAIT_WORKER_RANK" > {out}/$SLURM_PROCID'
    job_id = provider.submit(command, 1, "two-nodes")
    status = wait_state(provider, job_id, JobState.COMPLETED, JobState.FAILED)
    assert status.state is JobState.COMPLETED, status  # type: ignore[attr-defined]
    lines = sorted(p.read_text().split() for p in out.iterdir())
    assert lines == [["node1", "0"], ["node2", "1"]]


def test_status_comes_from_sacct(slurm_conf: SlurmCluster, tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    job_id = provider.submit("true", 1, "src")
    wait_state(provider, job_id, JobState.COMPLETED)
    assert provider.status_source == "sacct"


def test_pending_job_is_pending_and_cancellable(slurm_conf: SlurmCluster, tmp_path: Path) -> None:
    """A job held back by ``--begin`` is PENDING (sacct lag or not) and scancel ends it."""
    provider = make_provider(tmp_path, scheduler_options="#SBATCH --begin=now+3600")
    job_id = provider.submit("true", 1, "pending")
    assert provider.status([job_id])[0].state is JobState.PENDING  # before sacct knows it
    status = wait_until(
        lambda: (s := provider.status([job_id])[0]).message and s,
        TIMEOUT,
        0.1,
        what="the pending reason",
    )
    assert status.state is JobState.PENDING and "BeginTime" in (status.message or "")
    assert slurm_conf.queue()[job_id] == "PENDING"
    assert provider.cancel([job_id]) == [True]
    wait_state(provider, job_id, JobState.CANCELLED)
    # squeue may tell first; sacct's "CANCELLED by <uid>" follows once it has the job
    wait_until(
        lambda: "CANCELLED by 0" in (provider.status([job_id])[0].message or ""),
        TIMEOUT,
        0.1,
        what="sacct's CANCELLED by 0",
    )
    wait_until(lambda: job_id not in slurm_conf.queue(), TIMEOUT, 0.1, what="job off squeue")


def test_sacct_lag_never_reports_a_new_job_finished(
    slurm_conf: SlurmCluster, tmp_path: Path, fake_bin
) -> None:
    """While sacct does not list a job yet (here: never, as on a lagging database) the job is
    queued or running per squeue, never COMPLETED; a poll updates only reported jobs."""
    fake_bin("sacct", "exit 0")  # accounting answers, but knows nothing yet
    provider = make_provider(tmp_path, scheduler_options="#SBATCH --begin=now+3600")
    job_id = provider.submit("true", 1, "lag")
    seen = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        seen.add(provider.status([job_id])[0].state)
        time.sleep(0.1)
    assert seen == {JobState.PENDING}
    assert slurm_conf.queue()[job_id] == "PENDING"
    provider.cancel([job_id])
    status = wait_state(provider, job_id, JobState.CANCELLED)  # squeue --states=all knows
    assert status.state is JobState.CANCELLED  # type: ignore[attr-defined]


def test_cancelled_job_is_not_overwritten_by_others_completing(
    slurm_conf: SlurmCluster, tmp_path: Path
) -> None:
    provider = make_provider(tmp_path)
    victim = provider.submit("sleep 300", 1, "victim")
    wait_state(provider, victim, JobState.RUNNING)
    provider.cancel([victim])
    wait_state(provider, victim, JobState.CANCELLED)
    other = provider.submit("true", 1, "other")
    wait_state(provider, other, JobState.COMPLETED)
    assert provider.status([victim, other])[0].state is JobState.CANCELLED


def test_failing_job_reports_exit_code_and_paths(slurm_conf: SlurmCluster, tmp_path: Path) -> None:
    provider = make_provider(tmp_path)
    job_id = provider.submit("echo oops >&2; exit 5", 1, "fails")
    status = wait_state(provider, job_id, JobState.FAILED)
    assert status.exit_code == 5  # type: ignore[attr-defined]
    assert "FAILED" in (status.message or "")  # type: ignore[attr-defined]
    stderr = Path(status.stderr_path)  # type: ignore[attr-defined]
    assert stderr.parent == tmp_path / "scripts"
    assert "oops" in stderr.read_text()
    assert (tmp_path / "scripts").joinpath(stderr.name.replace(".stderr", ".submit")).exists()


def test_bad_partition_names_the_field(slurm_conf: SlurmCluster, tmp_path: Path) -> None:
    provider = make_provider(tmp_path, partition="nosuchpartition")
    began = time.monotonic()
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "bad-partition")
    assert time.monotonic() - began < 5
    message = str(info.value)
    assert "partition='nosuchpartition'" in message
    assert "invalid partition specified: nosuchpartition" in message
    assert "invalid partition" in (info.value.stderr or "")


@pytest.mark.parametrize(
    ("kwargs", "named", "quoted"),
    [
        ({"constraint": "nosuchfeature"}, "constraint='nosuchfeature'", "Invalid feature"),
        ({"mem_per_node": 9999}, "mem_per_node=9999", "Memory specification"),
        ({"gpus_per_node": 1}, "gpus_per_node=1", "Invalid generic resource"),
    ],
    ids=["constraint", "memory", "gpus"],
)
def test_refused_submission_names_the_field(
    slurm_conf: SlurmCluster, tmp_path: Path, kwargs: dict[str, object], named: str, quoted: str
) -> None:
    provider = make_provider(tmp_path, **kwargs)
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "refused")
    assert named in str(info.value), str(info.value)
    assert quoted in str(info.value), str(info.value)


def test_polls_are_cached(slurm_conf: SlurmCluster, tmp_path: Path, fake_bin) -> None:
    count = tmp_path / "sacct-calls"
    fake_bin("sacct", f'echo x >> {count}\nexec /usr/bin/sacct "$@"')
    provider = make_provider(tmp_path, status_polling_interval=60)
    jobs = [provider.submit("sleep 300", 1, f"cached-{i}") for i in range(3)]
    for _ in range(20):
        assert len(provider.status(jobs)) == 3
    assert count.read_text().count("x") == 1, "one sacct call for all jobs per interval"
    provider._last_poll = float("-inf")  # the interval has passed
    for _ in range(20):
        provider.status(jobs)
    assert count.read_text().count("x") == 2
    provider.cancel(jobs)
    wait_until(
        lambda: all(s.state is JobState.CANCELLED for s in provider.status(jobs)),
        TIMEOUT,
        0.1,
        what="jobs cancelled",
    )


def test_accounting_disabled_falls_back_to_squeue(
    slurm_conf: SlurmCluster, tmp_path: Path, fake_bin, caplog: pytest.LogCaptureFixture
) -> None:
    fake_bin(
        "sacct",
        "echo 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1",
    )
    provider = make_provider(tmp_path)
    with caplog.at_level(logging.INFO, logger="plait_provider_slurm"):
        ok = provider.submit("true", 1, "fallback-ok")
        bad = provider.submit("exit 6", 1, "fallback-bad")
        wait_until(
            lambda: all(s.terminal for s in provider.status([ok, bad])), TIMEOUT, 0.1, what="end"
        )
        for _ in range(3):
            provider._last_poll = float("-inf")
            provider.status([ok, bad])
    assert provider.status_source == "squeue"
    ok_status, bad_status = provider.status([ok, bad])
    assert ok_status.state is JobState.COMPLETED and ok_status.exit_code == 0
    assert bad_status.state is JobState.FAILED and bad_status.exit_code == 6
    said = [r for r in caplog.records if "accounting is disabled" in r.getMessage()]
    assert len(said) == 1, "the source is named once"


def test_failing_status_command_is_tolerated_then_unknown(
    slurm_conf: SlurmCluster, tmp_path: Path, fake_bin, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider(tmp_path, max_failed_polls=3)
    job_id = provider.submit("sleep 300", 1, "flaky")
    wait_state(provider, job_id, JobState.RUNNING)
    fake_bin("sacct", "echo 'sacct: error: slurmdbd: Connection refused' >&2\nexit 1")
    with caplog.at_level(logging.WARNING, logger="plait_provider_slurm"):
        for _ in range(2):
            provider._last_poll = float("-inf")
            assert provider.status([job_id])[0].state is JobState.RUNNING  # kept
        provider._last_poll = float("-inf")
        status = provider.status([job_id])[0]
    assert status.state is JobState.UNKNOWN  # never silently FAILED
    assert "Connection refused" in (status.message or "")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("Connection refused" in w for w in warnings)
    os.unlink(Path(os.environ["PATH"].split(os.pathsep)[0]) / "sacct")
    provider._last_poll = float("-inf")
    assert provider.status([job_id])[0].state is JobState.RUNNING  # recovers
    provider.cancel([job_id])


def test_slow_status_command_is_bounded(slurm_conf: SlurmCluster, tmp_path: Path, fake_bin) -> None:
    fake_bin("sacct", "exec sleep 30")
    provider = make_provider(tmp_path, cmd_timeout=0.5, max_failed_polls=1)
    job_id = provider.submit("true", 1, "slow")
    provider._last_poll = float("-inf")
    began = time.monotonic()
    status = provider.status([job_id])[0]
    assert time.monotonic() - began < 3
    assert status.state is JobState.UNKNOWN
    assert "cmd_timeout" in (status.message or "")


def test_jobs_are_cancelled_when_the_process_exits(
    slurm_conf: SlurmCluster, tmp_path: Path
) -> None:
    """A script that submits blocks (one running, one pending) and exits leaves nothing
    of its own in squeue."""
    script = tmp_path / "submitter.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from plait.launchers.simple import SimpleLauncher
            from plait_provider_slurm import SlurmProvider
            p = SlurmProvider(launcher=SimpleLauncher(), script_dir={str(tmp_path / "s")!r})
            print(p.submit("sleep 300", 1, "at-exit-running"))
            p.scheduler_options = "#SBATCH --begin=now+3600"
            print(p.submit("sleep 300", 1, "at-exit-pending"))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert len(out) == 2
    wait_until(
        lambda: not set(out) & set(slurm_conf.queue()), TIMEOUT, 0.1, what="jobs gone from squeue"
    )
    states = slurm_conf.queue(all_states=True)
    assert {states[j] for j in out} == {"CANCELLED"}
