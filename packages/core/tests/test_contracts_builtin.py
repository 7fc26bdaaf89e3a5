"""Every built-in plugin passes the contract suite of its kind (``plait.testing``).

Core's built-ins are held to exactly the suites a third-party plugin applies to
itself, plus a ``copy://`` staging provider defined here, registered through an
isolated plugin manager and driven through a real DataFlowKernel.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import plait
from plait import Config, File, ThreadPoolExecutor
from plait.data_provider.staging import NoOpFileStaging, Staging
from plait.executors.base import Executor
from plait.launchers.base import Launcher
from plait.launchers.simple import SimpleLauncher, SingleNodeLauncher, WrappedLauncher
from plait.plugins import Plugins, UnknownPluginError, hookimpl
from plait.plugins.manager import use_plugins
from plait.plugins.registry import Registry
from plait.providers.base import ExecutionProvider
from plait.providers.local import LocalProvider
from plait.serialize.base import Serializer
from plait.serialize.builtin import ByReferenceSerializer, DillSerializer, PickleSerializer
from plait.testing import (
    ExecutorContract,
    LauncherContract,
    ProviderContract,
    SerializerContract,
    StagingContract,
)

FunctionCases = list[tuple[Callable[..., Any], tuple[Any, ...], Any]]

# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------


class TestThreadPoolExecutor(ExecutorContract):
    @pytest.fixture
    def executor(self) -> Executor:
        return ThreadPoolExecutor(label="contract-threads", max_threads=2)


# ---------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------


class TestLocalProviderSimpleLauncher(ProviderContract):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> ExecutionProvider:
        provider = LocalProvider(launcher=SimpleLauncher())
        provider.script_dir = str(tmp_path / "submit_scripts")
        return provider


class TestLocalProviderSingleNodeLauncher(ProviderContract):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> ExecutionProvider:
        provider = LocalProvider(launcher=SingleNodeLauncher())
        provider.script_dir = str(tmp_path / "submit_scripts")
        return provider


# ---------------------------------------------------------------------------
# Launchers
# ---------------------------------------------------------------------------


class TestSimpleLauncher(LauncherContract):
    expected_copies = 1

    @pytest.fixture
    def launcher(self) -> Launcher:
        return SimpleLauncher()


class TestSingleNodeLauncher(LauncherContract):
    expected_copies = 2  # tasks_per_node=2 on one node

    @pytest.fixture
    def launcher(self) -> Launcher:
        return SingleNodeLauncher()


class TestSingleNodeLauncherQuiet(LauncherContract):
    expected_copies = 2

    @pytest.fixture
    def launcher(self) -> Launcher:
        return SingleNodeLauncher(debug=False)


class TestWrappedLauncher(LauncherContract):
    expected_copies = 1

    @pytest.fixture
    def launcher(self) -> Launcher:
        return WrappedLauncher(prepend="env PLAIT_CONTRACT_WRAPPED=1")


class TestWrappedLauncherNoPrefix(LauncherContract):
    expected_copies = 1

    @pytest.fixture
    def launcher(self) -> Launcher:
        return WrappedLauncher()


# ---------------------------------------------------------------------------
# Staging
# ---------------------------------------------------------------------------


class TestNoOpFileStaging(StagingContract):
    @pytest.fixture
    def staging(self) -> Staging:
        return NoOpFileStaging()


class CopyStaging(Staging):
    """``copy:///abs/path``: stage in copies the file into the working directory,
    stage out copies ``local_path`` back to the URL's path."""

    plugin_name = "copy"
    schemes = ("copy",)

    def stage_in(self, file: File, working_dir: str) -> None:
        os.makedirs(working_dir, exist_ok=True)
        destination = os.path.join(working_dir, file.filename)
        shutil.copyfile(file.path, destination)
        file.local_path = destination

    def stage_out(self, file: File, working_dir: str) -> None:
        if file.local_path is None:
            raise ValueError(f"{file.url} has no local_path to stage out from")
        os.makedirs(os.path.dirname(file.path), exist_ok=True)
        shutil.copyfile(file.local_path, file.path)


class TestCopyStaging(StagingContract):
    @pytest.fixture
    def staging(self) -> Staging:
        return CopyStaging()

    @pytest.fixture
    def staging_file(self, tmp_path: Path) -> File:
        source = tmp_path / "copy-source" / "input.txt"
        source.parent.mkdir()
        source.write_text("copied by the copy provider\n")
        return File(f"copy://{source}")

    @pytest.fixture
    def staging_output_file(self, tmp_path: Path) -> File:
        return File(f"copy://{tmp_path}/copy-destination/output.txt")


class _CopyStagingPlugin:
    """A plugin object (not a module) registering :class:`CopyStaging`."""

    @hookimpl
    def plait_register_staging(self, registry: Registry[Staging]) -> None:
        registry.add(CopyStaging)


def _read_first(inputs: Any = ()) -> tuple[str, str]:
    file = inputs[0]
    with open(file.filepath) as f:
        return file.filepath, f.read()


def test_copy_staging_registered_as_plugin_runs_under_kernel(tmp_path: Path) -> None:
    """A registered ``copy`` provider is chosen by scheme for an app's ``inputs``."""
    source = tmp_path / "data" / "input.txt"
    source.parent.mkdir()
    source.write_text("staged through the registry\n")
    work = tmp_path / "task-work"
    plugins = Plugins(autoload=False)
    plugins.register(_CopyStagingPlugin(), "copy-staging")
    with use_plugins(plugins):
        assert plugins.staging.get("copy") is CopyStaging
        assert plugins.staging.source("copy").plugin == "copy-staging"
        executor = ThreadPoolExecutor(label="copy-threads", working_dir=str(work))
        kernel = plait.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo")))
        try:
            path, text = plait.python_app(_read_first)(inputs=[File(f"copy://{source}")]).result(
                timeout=30
            )
        finally:
            kernel.cleanup()
    assert text == "staged through the registry\n"
    assert Path(path) == work / "input.txt"


def test_unregistered_scheme_fails_the_task_by_name(tmp_path: Path) -> None:
    """Without the ``copy`` plugin the same app fails, naming the scheme."""
    source = tmp_path / "input.txt"
    source.write_text("never staged\n")
    with use_plugins(Plugins(autoload=False)):
        kernel = plait.load(
            Config(executors=[ThreadPoolExecutor()], run_dir=str(tmp_path / "runinfo"))
        )
        try:
            fut = plait.python_app(_read_first)(inputs=[File(f"copy://{source}")])
            with pytest.raises(UnknownPluginError, match="'copy'"):
                fut.result(timeout=30)
        finally:
            kernel.cleanup()


# ---------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------


def triple(x: int) -> int:
    """A module-level function of this test module (sent by reference)."""
    return 3 * x


def _make_closure(offset: int) -> Callable[[int], int]:
    def shifted(x: int) -> int:
        return x + offset

    return shifted


class TestPickleSerializer(SerializerContract):
    @pytest.fixture
    def serializer(self) -> Serializer:
        return PickleSerializer()

    @pytest.fixture
    def function_cases(self) -> FunctionCases:
        return [(triple, (2,), 6), (len, ("four",), 4)]


class TestDillSerializer(SerializerContract):
    @pytest.fixture
    def serializer(self) -> Serializer:
        return DillSerializer()

    @pytest.fixture
    def function_cases(self) -> FunctionCases:
        return [
            (triple, (2,), 6),
            (lambda x: x * 10, (4,), 40),
            (_make_closure(100), (5,), 105),
        ]


class TestByReferenceSerializer(SerializerContract):
    serializes_data = False

    @pytest.fixture
    def serializer(self) -> Serializer:
        return ByReferenceSerializer()

    @pytest.fixture
    def function_cases(self) -> FunctionCases:
        from plait.testing.contracts import add

        return [(add, (2, 3), 5), (triple, (2,), 6)]

    def test_refuses_lambdas_and_closures(self, serializer: Serializer) -> None:
        for func in (lambda x: x, _make_closure(1)):
            assert not serializer.accepts(func)
            with pytest.raises(TypeError):
                serializer.serialize(func)


def _write_output(outputs: Any = ()) -> str:
    with open(outputs[0].filepath, "w") as f:
        f.write("produced remotely\n")
    return outputs[0].filepath


def test_copy_staging_moves_an_output_out_under_kernel(tmp_path: Path) -> None:
    """An ``outputs=`` file of a staged scheme is written locally, then staged out."""
    destination = tmp_path / "results" / "out.txt"
    work = tmp_path / "task-work"
    work.mkdir()
    plugins = Plugins(autoload=False)
    plugins.register(_CopyStagingPlugin(), "copy-staging")
    with use_plugins(plugins):
        executor = ThreadPoolExecutor(label="copy-threads", working_dir=str(work))
        with plait.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"))):
            fut = plait.python_app(_write_output)(outputs=[File(f"copy://{destination}")])
            local = fut.result(timeout=30)
            assert fut.outputs[0].result(timeout=30).url == f"copy://{destination}"
    assert Path(local) == work / "out.txt"
    assert destination.read_text() == "produced remotely\n"
