"""The executor's configuration and start-up: errors that say what to fix or install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plait.errors import ConfigError, InvalidResourceSpecification
from plait.launchers.simple import SimpleLauncher, SingleNodeLauncher
from plait.plugins import Plugins
from plait.providers.local import LocalProvider
from plait_executor_mpi import MPIExecutor, MPISetupError
from plait_executor_mpi import implementation as impl
from plait_executor_mpi.implementation import identify, resolve

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``fake_path(name, version_text)``: PATH holds only programs made here (and bash's
    usual tools are reached by absolute path), each printing ``version_text``."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))

    def make(name: str, version_text: str) -> None:
        path = directory / name
        path.write_text(f"#!/bin/bash\necho '{version_text}'\n")
        path.chmod(0o755)

    return make


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("mpiexec (OpenRTE) 4.1.4\n\nReport bugs to http://www.open-mpi.org", "openmpi"),
        ("mpirun (Open MPI) 5.0.3", "openmpi"),
        ("HYDRA build details:\n    Version: 4.0.2", "mpich"),
        ("Intel(R) MPI Library for Linux* OS, Version 2021.10", "mpich"),
        ("aprun (ALPS) 6.6", None),
    ],
)
def test_identify(text: str, found: str | None) -> None:
    assert identify(text) == found


def test_executor_is_registered_as_mpi() -> None:
    assert Plugins().lookup("executor", "mpi") is MPIExecutor


def test_missing_launcher_fails_start_before_anything_starts(
    fake_path: object, tmp_path: Path
) -> None:
    executor = MPIExecutor()
    executor.run_dir = str(tmp_path / "run")
    with pytest.raises(MPISetupError) as info:
        executor.start()
    text = str(info.value)
    assert "no mpiexec on PATH" in text
    assert "apt-get install openmpi-bin" in text and "apt-get install mpich" in text
    assert executor._ix is None and not executor.blocks, "something was started"


def test_asking_for_an_mpi_that_is_not_the_launchers_is_an_error(fake_path) -> None:
    fake_path("mpiexec", "HYDRA build details:")
    with pytest.raises(LookupError) as info:
        resolve("mpiexec", "openmpi")
    assert "is mpich's launcher" in str(info.value)
    assert "apt-get install openmpi-bin" in str(info.value)


def test_debian_suffixed_launcher_is_preferred(fake_path, monkeypatch) -> None:
    fake_path("mpiexec", "mpiexec (OpenRTE) 4.1.4")
    fake_path("mpiexec.mpich", "HYDRA build details:")
    monkeypatch.setattr(impl, "find_library", lambda name: f"/lib/{name}")
    assert resolve("mpiexec", "mpich") == impl.MPISetup("mpiexec", "mpiexec.mpich", "mpich")
    assert resolve("mpiexec", None) == impl.MPISetup("mpiexec", "mpiexec", "openmpi")


def test_missing_library_names_the_package(fake_path, monkeypatch) -> None:
    fake_path("mpiexec", "HYDRA build details:")
    monkeypatch.setattr(impl, "find_library", lambda name: None)
    with pytest.raises(LookupError) as info:
        resolve("mpiexec", None)
    assert "libmpi.so.12 or libmpich.so.12" in str(info.value)
    assert "apt-get install mpich" in str(info.value)


def test_unknown_mpi_must_be_named(fake_path) -> None:
    fake_path("mpiexec", "some launcher 1.0")
    with pytest.raises(LookupError, match="pass mpi_implementation"):
        resolve("mpiexec", None)


def test_srun_and_aprun_must_exist(fake_path) -> None:
    with pytest.raises(LookupError, match="no srun on PATH"):
        resolve("srun", None)
    with pytest.raises(LookupError, match="no aprun on PATH"):
        resolve("aprun", None)
    fake_path("srun", "slurm 22.05.8")
    assert resolve("srun", "mpich") == impl.MPISetup("srun", "srun", "mpich")


def test_check_mpi_false_trusts_the_configuration(fake_path, tmp_path: Path) -> None:
    executor = MPIExecutor(
        check_mpi=False,
        mpi_implementation="mpich",
        provider=LocalProvider(launcher=SimpleLauncher(), init_blocks=0),
    )
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        assert executor.setup == impl.MPISetup("mpiexec", "mpiexec", "mpich")
        assert "--mpi-implementation mpich" in executor.launch_command("0")
        assert "plait-mpi-manager" in executor.launch_command(
            "0"
        ) or "plait_executor_mpi.manager" in executor.launch_command("0")
    finally:
        executor.shutdown()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"provider": LocalProvider()}, "provider.launcher"),
        ({"provider": LocalProvider(launcher=SingleNodeLauncher())}, "provider.launcher"),
        ({"mpi_launcher": "jsrun"}, "mpi_launcher"),
        ({"mpi_implementation": "lam"}, "mpi_implementation"),
        ({"max_workers_per_block": 0}, "max_workers_per_block"),
    ],
)
def test_bad_configuration_is_refused(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        MPIExecutor(**options)
    assert info.value.field == field


def test_submit_checks_the_request_before_any_block_exists(tmp_path: Path) -> None:
    """With no block started (init_blocks=0) a bad request fails at once; a block's size
    is the provider's (a LocalProvider block is one node); the caller's dict is kept."""
    executor = MPIExecutor(
        check_mpi=False,
        mpi_implementation="openmpi",
        provider=LocalProvider(launcher=SimpleLauncher(), init_blocks=0),
    )
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        spec = {"num_nodes": 2, "ranks_per_node": 2}
        with pytest.raises(InvalidResourceSpecification) as info:
            executor.submit(print, spec)
        assert "num_nodes=2" in str(info.value)
        assert "has 1 node(s) (a LocalProvider block is this one machine)" in str(info.value)
        assert spec == {"num_nodes": 2, "ranks_per_node": 2}
        with pytest.raises(InvalidResourceSpecification, match="needs a resource specification"):
            executor.submit(print, {})
        with pytest.raises(InvalidResourceSpecification, match="ranks_per_node"):
            executor.submit(print, {"num_nodes": 1, "rank_per_node": 1})
        assert not executor.blocks and executor.outstanding() == 0
    finally:
        executor.shutdown()
    assert os.path.isdir(tmp_path / "run")
