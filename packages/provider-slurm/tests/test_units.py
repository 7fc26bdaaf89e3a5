"""The provider's and launchers' pure parts: state table, parsing, validation, job
scripts, command lines, registration. No cluster needed."""

from __future__ import annotations

from pathlib import Path

import importlib_metadata
import pytest

from plait.errors import ConfigError
from plait.plugins import ENTRY_POINT_GROUP, Plugins, get_plugins
from plait.plugins.manager import use_plugins
from plait.providers.base import JobState
from plait_provider_slurm import SlurmProvider, SrunLauncher, SrunMPILauncher
from plait_provider_slurm.provider import (
    SLURM_STATES,
    parse_exit_code,
    parse_job_id,
    translate_state,
    walltime_seconds,
)

# Every state Slurm 22.05 documents for jobs (sacct and squeue long names).
STATE_TABLE = [
    ("PENDING", JobState.PENDING),
    ("CONFIGURING", JobState.PENDING),
    ("REQUEUED", JobState.PENDING),
    ("REQUEUE_FED", JobState.PENDING),
    ("RUNNING", JobState.RUNNING),
    ("COMPLETING", JobState.RUNNING),
    ("RESIZING", JobState.RUNNING),
    ("SIGNALING", JobState.RUNNING),
    ("STAGE_OUT", JobState.RUNNING),
    ("COMPLETED", JobState.COMPLETED),
    ("CANCELLED", JobState.CANCELLED),
    ("CANCELLED by 0", JobState.CANCELLED),
    ("CANCELLED by 1000", JobState.CANCELLED),
    ("PREEMPTED", JobState.CANCELLED),
    ("REVOKED", JobState.CANCELLED),
    ("FAILED", JobState.FAILED),
    ("NODE_FAIL", JobState.FAILED),
    ("BOOT_FAIL", JobState.FAILED),
    ("OUT_OF_MEMORY", JobState.FAILED),
    ("SPECIAL_EXIT", JobState.FAILED),
    ("TIMEOUT", JobState.TIMEOUT),
    ("DEADLINE", JobState.TIMEOUT),
    ("SUSPENDED", JobState.HELD),
    ("STOPPED", JobState.HELD),
    ("REQUEUE_HOLD", JobState.HELD),
    ("RESV_DEL_HOLD", JobState.HELD),
    ("FAILED+", JobState.FAILED),  # sacct marks truncated/adjusted values with '+'
    ("SOMETHING_NEW", JobState.UNKNOWN),
]


@pytest.mark.parametrize(("slurm", "expected"), STATE_TABLE, ids=[s for s, _ in STATE_TABLE])
def test_every_slurm_state_is_mapped(slurm: str, expected: JobState) -> None:
    state, message = translate_state(slurm)
    assert state is expected
    assert message == slurm


def test_table_covers_every_mapped_state() -> None:
    assert {s for s, _ in STATE_TABLE if " " not in s and "+" not in s} - {"SOMETHING_NEW"} == set(
        SLURM_STATES
    )
    # the issue's list, by name
    issue_states = [
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "SUSPENDED",
        "REQUEUED",
        "RESIZING",
        "REVOKED",
        "SPECIAL_EXIT",
        "STOPPED",
    ]
    for name in issue_states:
        assert name in SLURM_STATES


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:10:00", 600),
        ("01:00:00", 3600),
        ("48:00:00", 172800),
        ("30", 1800),
        ("5:30", 330),
        ("1-00", 86400),
        ("1-02:03", 93780),
        ("2-00:00:01", 172801),
    ],
)
def test_walltime_forms(text: str, seconds: int) -> None:
    assert walltime_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "00:61:00", "1:2:3:4", "-5", "00:00:00", "1h"])
def test_bad_walltime_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        SlurmProvider(walltime=text)
    assert info.value.field == "walltime"
    assert "HH:MM:SS" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"nodes_per_block": 0}, "nodes_per_block"),
        ({"nodes_per_block": -1}, "nodes_per_block"),
        ({"init_blocks": -1}, "init_blocks"),
        ({"min_blocks": -1}, "min_blocks"),
        ({"max_blocks": -2}, "max_blocks"),
        ({"min_blocks": 3, "max_blocks": 2}, "min_blocks"),
        ({"cores_per_node": 0}, "cores_per_node"),
        ({"gpus_per_node": -1}, "gpus_per_node"),
        ({"mem_per_node": -4}, "mem_per_node"),
        ({"mem_per_node": 0}, "mem_per_node"),
        ({"parallelism": 1.5}, "parallelism"),
        ({"cmd_timeout": 0}, "cmd_timeout"),
        ({"status_polling_interval": -1}, "status_polling_interval"),
        ({"partition": "two words"}, "partition"),
        ({"account": ""}, "account"),
        ({"exclusive": "yes"}, "exclusive"),
        ({"scheduler_options": "--exclusive"}, "scheduler_options"),
        ({"nodes_per_block": 1.5}, "nodes_per_block"),
        ({"launcher": "srun"}, "launcher"),
    ],
)
def test_invalid_values_are_config_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        SlurmProvider(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_defaults_follow_the_issue() -> None:
    provider = SlurmProvider()
    assert provider.exclusive is False
    assert isinstance(provider.launcher, SrunLauncher)
    assert provider.script_dir is None
    assert provider.label == "slurm"
    assert provider.status_polling_interval > 0


@pytest.mark.parametrize(
    ("text", "code"),
    [("0:0", 0), ("3:0", 3), ("0:15", -15), ("1:9", 1), ("", None), ("x:y", None)],
)
def test_exit_codes(text: str, code: int | None) -> None:
    assert parse_exit_code(text) == code


@pytest.mark.parametrize(
    ("out", "job_id"),
    [
        ("42\n", "42"),
        ("42;plait\n", "42"),
        ("sbatch: warning: something\n17;cluster2\n", "17"),
        ("123_4\n", "123_4"),
        ("", None),
        ("Submitted batch job 5\n", None),
    ],
)
def test_parsable_output(out: str, job_id: str | None) -> None:
    assert parse_job_id(out) == job_id


def test_job_script(tmp_path: Path) -> None:
    provider = SlurmProvider(
        partition="debug",
        account="proj1",
        qos="high",
        constraint="haswell",
        clusters="c2",
        nodes_per_block=2,
        cores_per_node=8,
        mem_per_node=2.5,
        gpus_per_node=1,
        walltime="01:30:00",
        scheduler_options="#SBATCH --mail-type=NONE\n#SBATCH --comment=plait",
        worker_init="source /opt/venv/bin/activate",
        launcher=SrunLauncher(debug=False),
    )
    script = provider.job_script("run-worker --x", 2, "plait.htex.block-0", str(tmp_path / "b"))
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    directives = [line for line in lines if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=plait.htex.block-0",
        f"#SBATCH --output={tmp_path / 'b'}.stdout",
        f"#SBATCH --error={tmp_path / 'b'}.stderr",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=2",
        "#SBATCH --time=01:30:00",
        "#SBATCH --partition=debug",
        "#SBATCH --account=proj1",
        "#SBATCH --qos=high",
        "#SBATCH --constraint=haswell",
        "#SBATCH --clusters=c2",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=2560M",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mail-type=NONE",
        "#SBATCH --comment=plait",
    ]
    # every directive comes before the first command, or sbatch would ignore it
    first_command = next(i for i, line in enumerate(lines[1:], 1) if not line.startswith("#"))
    assert all(lines.index(d) < first_command for d in directives)
    assert "--exclusive" not in script
    assert "export PLAIT_CORES=4 PARSL_CORES=4" in script
    assert "source /opt/venv/bin/activate" in script
    assert "run-worker --x" in script
    assert script.index("source /opt/venv") < script.index("srun ")
    assert 'exit "$status"' in script


def test_exclusive_adds_the_directive(tmp_path: Path) -> None:
    script = SlurmProvider(exclusive=True).job_script("cmd", 1, "j", str(tmp_path / "b"))
    assert "#SBATCH --exclusive" in script.splitlines()


# -- launchers ----------------------------------------------------------------


def test_srun_command_line() -> None:
    line = SrunLauncher(debug=False, overrides="--cpu-bind=cores")("worker --id 'a b'", 3, 2)
    *setup, srun = line.strip().splitlines()
    assert "worker --id 'a b'" in setup  # verbatim, on a line of its own
    assert srun.startswith(
        "srun --nodes=2 --ntasks=6 --ntasks-per-node=3 --kill-on-bad-exit=0 --cpu-bind=cores "
    )
    assert "PLAIT_WORKER_RANK=$SLURM_PROCID" in srun
    assert "PARSL_WORKER_RANK=$SLURM_PROCID" in srun
    assert not line.startswith("set -x")
    assert SrunLauncher()("c", 1, 1).startswith("set -x\n")


def test_srun_heredoc_delimiter_never_clashes() -> None:
    command = "echo PLAIT_SRUN_EOF"
    line = SrunLauncher(debug=False)(command, 1, 1)
    assert "<<'PLAIT_SRUN_EOF_'" in line
    assert command in line


def test_srun_mpi_command_line() -> None:
    line = SrunMPILauncher(debug=False, mpi="pmix")("mpi-app --n 4", 2, 2)
    srun = line.strip().splitlines()[-1]
    assert srun.startswith(
        "srun --nodes=2 --ntasks=4 --ntasks-per-node=2 --kill-on-bad-exit=1 "
        "--distribution=block --mpi=pmix "
    )
    assert "PLAIT_WORKER_RANK" not in srun
    assert "--mpi" not in SrunMPILauncher(debug=False)("x", 1, 1)
    with pytest.raises(ConfigError):
        SrunMPILauncher(mpi="pm ix")


@pytest.mark.parametrize("launcher", [SrunLauncher(), SrunMPILauncher()])
def test_launchers_refuse_zero_counts(launcher: SrunLauncher) -> None:
    with pytest.raises(ConfigError):
        launcher("x", 0, 1)
    with pytest.raises(ConfigError):
        launcher("x", 1, 0)


# -- registration -------------------------------------------------------------


def test_found_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_PLUGINS", raising=False)
    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS", raising=False)
    dist = importlib_metadata.distribution("plait-provider-slurm")
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    assert (entry_point.name, entry_point.value) == ("slurm", "plait_provider_slurm.plugin")
    with use_plugins(Plugins()):
        plugins = get_plugins()
        assert plugins.providers.get("slurm") is SlurmProvider
        assert plugins.launchers.get("srun") is SrunLauncher
        assert plugins.launchers.get("srun-mpi") is SrunMPILauncher
        assert plugins.providers.source("slurm").distribution == "plait-provider-slurm"
        assert "slurm" not in plugins.load_errors


def test_public_imports_through_core() -> None:
    from plait.launchers import SrunLauncher as FromLaunchers
    from plait.providers import SlurmProvider as FromProviders

    assert FromProviders is SlurmProvider
    assert FromLaunchers is SrunLauncher


def test_config_from_dict_builds_it() -> None:
    from plait import Config

    config = Config.from_dict(
        {
            "executors": [
                {
                    "type": "htex",
                    "provider": {
                        "type": "slurm",
                        "partition": "debug",
                        "nodes_per_block": 2,
                        "launcher": {"type": "srun", "overrides": "--cpu-bind=none"},
                    },
                }
            ]
        }
    )
    provider = config.executors[0].provider  # type: ignore[attr-defined]
    assert isinstance(provider, SlurmProvider)
    assert provider.nodes_per_block == 2
    assert isinstance(provider.launcher, SrunLauncher)
    assert provider.launcher.overrides == "--cpu-bind=none"
