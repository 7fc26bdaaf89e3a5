"""The block launchers: their command lines, and real runs under Open MPI and MPICH."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mpi_helpers import LAUNCHERS, require_mpi

from plait.errors import ConfigError
from plait.launchers.base import Launcher
from plait.plugins import Plugins
from plait.testing import LauncherContract
from plait_executor_mpi import AprunLauncher, JsrunLauncher, MpiExecLauncher, MpiRunLauncher

pytestmark = pytest.mark.timeout(60)

COMMAND = "plait-htex-manager --block-id 3 --address 'tcp://10.0.0.1'"


def last_line(snippet: str) -> str:
    return snippet.rstrip("\n").splitlines()[-1]


@pytest.mark.parametrize(
    ("launcher", "line"),
    [
        (
            MpiExecLauncher(implementation="openmpi"),
            "mpiexec --bind-to none -n 8 --map-by ppr:4:node --oversubscribe "
            "-x PLAIT_LAUNCH_COMMAND /bin/bash -c",
        ),
        (
            MpiExecLauncher(program="mpiexec.mpich", implementation="mpich", overrides="-v"),
            "mpiexec.mpich --bind-to none -n 8 -ppn 4 -v /bin/bash -c",
        ),
        (
            MpiRunLauncher(implementation="mpich", bash_location="/usr/bin/bash"),
            "mpirun -n 8 -ppn 4 /usr/bin/bash -c",
        ),
        (AprunLauncher(overrides="-cc none"), "aprun -n 8 -N 4 -cc none /bin/bash -c"),
        (JsrunLauncher(), "jsrun -n 8 -r 4 /bin/bash -c"),
    ],
)
def test_command_lines(launcher: Launcher, line: str) -> None:
    snippet = launcher(COMMAND, 4, 2)
    assert last_line(snippet).startswith(line + " "), snippet
    assert snippet.startswith("set -x\n")
    # the command travels in a quoted here-document, byte for byte
    assert f"<<'PLAIT_LAUNCH_EOF'\n{COMMAND}\nPLAIT_LAUNCH_EOF\n" in snippet
    assert 'eval "$PLAIT_LAUNCH_COMMAND"' in last_line(snippet)


def test_open_mpi_is_allowed_to_run_as_root_and_mpich_needs_nothing() -> None:
    openmpi = MpiExecLauncher(debug=False, implementation="openmpi")(COMMAND, 1, 1)
    assert openmpi.startswith('if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1')
    mpich = MpiExecLauncher(debug=False, implementation="mpich")(COMMAND, 1, 1)
    assert "OMPI_ALLOW_RUN_AS_ROOT" not in mpich and not mpich.startswith("set -x")


def test_a_delimiter_inside_the_command_is_avoided() -> None:
    command = "echo PLAIT_LAUNCH_EOF"
    snippet = AprunLauncher(debug=False)(command, 1, 1)
    assert f"<<'PLAIT_LAUNCH_EOF_'\n{command}\nPLAIT_LAUNCH_EOF_\n" in snippet


def test_bad_counts_and_implementations_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="tasks_per_node"):
        JsrunLauncher()(COMMAND, 0, 1)
    with pytest.raises(ConfigError, match="nodes_per_block"):
        AprunLauncher()(COMMAND, 1, 0)
    with pytest.raises(ConfigError, match="implementation"):
        MpiExecLauncher(implementation="lam")
    with pytest.raises(ConfigError, match="cannot tell which MPI no-such-mpiexec"):
        MpiExecLauncher(program="no-such-mpiexec")(COMMAND, 1, 1)


def test_launchers_are_registered_by_the_mpi_plugin() -> None:
    plugins = Plugins()
    for name, cls in [
        ("mpiexec", MpiExecLauncher),
        ("mpirun", MpiRunLauncher),
        ("aprun", AprunLauncher),
        ("jsrun", JsrunLauncher),
    ]:
        assert plugins.lookup("launcher", name) is cls
        assert plugins.launchers.source(name).distribution == "plait-executor-mpi"


@pytest.fixture(params=sorted(LAUNCHERS))
def mpi_program(request: pytest.FixtureRequest) -> str:
    require_mpi(request.param)
    return LAUNCHERS[request.param][0]


class TestMpiExecLauncherContract(LauncherContract):
    """Real ``mpiexec`` runs: two copies on this machine, a failing copy fails the job."""

    expected_copies = 2

    @pytest.fixture
    def launcher(self, mpi_program: str) -> Launcher:
        return MpiExecLauncher(debug=False, program=mpi_program)


class TestMpiRunLauncherContract(LauncherContract):
    expected_copies = 2

    @pytest.fixture
    def launcher(self, mpi_program: str) -> Launcher:
        return MpiRunLauncher(debug=False, program=mpi_program.replace("mpiexec", "mpirun"))


def test_each_copy_sees_its_own_rank(mpi_program: str, tmp_path: Path) -> None:
    snippet = MpiExecLauncher(debug=False, program=mpi_program)(
        f"touch {tmp_path}/rank-$PLAIT_WORKER_RANK-$PARSL_WORKER_RANK", 3, 1
    )
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\n{snippet}")
    done = subprocess.run(
        ["/bin/bash", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("rank-*")) == ["rank-0-0", "rank-1-1", "rank-2-2"]
