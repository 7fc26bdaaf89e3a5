"""The plugin manager facade: discovery, registries, errors, switches and observer hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

import plait
from plait.events import BlockStateChanged, TaskStateChanged
from plait.executors.base import Executor
from plait.executors.threads import ThreadPoolExecutor
from plait.plugins import (
    DuplicatePluginError,
    PluginLoadError,
    Plugins,
    UnknownPluginError,
    hookimpl,
)
from plait.plugins.manager import use_plugins
from plait.providers.local import LocalProvider


def make_dist(
    root: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """Write an installed-looking distribution (dist-info + modules) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[plait]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory on sys.path for fake installed distributions."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("PLAIT_PLUGINS", raising=False)
    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS", raising=False)
    return root


BROKEN = {"plait_broken_mod": "raise RuntimeError('boom at import')\n"}
GOOD = {
    "plait_good_mod": """
        import plait
        from plait.executors.threads import ThreadPoolExecutor

        class GoodExecutor(ThreadPoolExecutor):
            plugin_name = "good"

        @plait.hookimpl
        def plait_register_executors(registry):
            registry.add(GoodExecutor)
    """
}


def test_builtins_register_through_the_hooks() -> None:
    plugins = Plugins(autoload=False)
    assert plugins.executors.get("threads") is ThreadPoolExecutor
    assert plugins.providers.get("local") is LocalProvider
    assert {"simple", "single-node", "wrapped"} <= set(plugins.launchers.names())
    assert {"pickle", "dill", "byref"} <= set(plugins.serializers.names())
    assert "file" in plugins.staging
    assert plugins.executors.source("threads").distribution == "plait"


def test_unknown_name_lists_installed_closest_and_install_hint() -> None:
    with pytest.raises(UnknownPluginError) as info:
        Plugins(autoload=False).lookup("executor", "thread")
    text = str(info.value)
    assert "unknown executor 'thread'" in text
    assert "threads" in text and "Did you mean 'threads'?" in text
    assert "pip install plait-executor-thread" in text


@pytest.mark.parametrize(
    ("kind", "name", "dist"),
    [
        ("executor", "taskvine", "plait-executor-taskvine"),  # the naming rule
        ("monitoring", "monitoring", "plait-monitoring"),  # named after its kind
        ("monitoring", "progress", "plait-monitoring"),  # first-party, outside the rule
        ("launcher", "srun", "plait-provider-slurm"),
        ("launcher", "mpiexec", "plait-executor-mpi"),
    ],
)
def test_install_hint_names_the_distribution_that_provides_it(
    kind: str, name: str, dist: str
) -> None:
    with pytest.raises(UnknownPluginError) as info:
        Plugins(autoload=False).lookup(kind, name)
    assert f"pip install {dist})" in str(info.value)


def test_duplicate_name_names_both_distributions() -> None:
    class Copy(ThreadPoolExecutor):
        plugin_name = "threads"

    class Dup:
        @hookimpl
        def plait_register_executors(self, registry: Any) -> None:
            registry.add(Copy)

    plugins = Plugins(autoload=False)
    plugins.register(Dup(), "dup")
    with pytest.raises(DuplicatePluginError) as info:
        plugins.executors  # noqa: B018 - building the registry raises
    assert "plait 0" in str(info.value) and "dup" in str(info.value)
    assert "Copy" in str(info.value) and "ThreadPoolExecutor" in str(info.value)


def test_registry_rejects_wrong_base_class_and_bad_name() -> None:
    class NotAnExecutor:
        plugin_name = "nope"

    class NoName(ThreadPoolExecutor):
        plugin_name = "Bad Name"

    registry = Plugins(autoload=False).executors
    with pytest.raises(TypeError, match=r"not a subclass of plait\.executors\.base\.Executor"):
        registry.add(NotAnExecutor)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plugin_name"):
        registry.add(NoName)


def test_misspelled_hook_is_refused_with_a_load_error() -> None:
    class Typo:
        @hookimpl
        def plait_register_executor(self, registry: Any) -> None:  # missing "s"
            pass

    with pytest.raises(PluginLoadError, match="plait_register_executor"):
        Plugins(autoload=False).register(Typo(), "typo")


def test_broken_plugin_is_reported_and_others_keep_working(site: Path) -> None:
    make_dist(site, "plait-executor-broken", "1.2.3", {"broken": "plait_broken_mod"}, BROKEN)
    make_dist(site, "plait-executor-good", "0.5", {"good": "plait_good_mod"}, GOOD)
    with pytest.warns(RuntimeWarning, match="plait-executor-broken 1.2.3"):
        plugins = Plugins()
    assert plugins.executors.get("good").__name__ == "GoodExecutor"
    error = plugins.load_errors["broken"]
    assert error.distribution == "plait-executor-broken" and error.version == "1.2.3"
    assert isinstance(error.__cause__, RuntimeError) and "boom at import" in str(error)
    assert "PLAIT_DISABLE_PLUGINS=broken" in str(error)
    with pytest.raises(PluginLoadError):
        plugins.lookup("executor", "broken")
    rows = {(r.name, r.status) for r in plugins.info()}
    assert ("broken", "error") in rows and ("good", "ok") in rows


def test_disable_list_and_allow_list(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "plait-executor-broken", "1.2.3", {"broken": "plait_broken_mod"}, BROKEN)
    make_dist(site, "plait-executor-good", "0.5", {"good": "plait_good_mod"}, GOOD)
    monkeypatch.setenv("PLAIT_DISABLE_PLUGINS", "broken")
    plugins = Plugins()
    assert not plugins.load_errors and "good" in plugins.executors
    assert ("broken", "disabled") in {(r.name, r.status) for r in plugins.info()}

    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS")
    monkeypatch.setenv("PLAIT_PLUGINS", "good")
    plugins = Plugins()
    assert "good" in plugins.executors and not plugins.load_errors

    monkeypatch.setenv("PLAIT_PLUGINS", "")
    plugins = Plugins()
    assert "good" not in plugins.executors and "threads" in plugins.executors
    with pytest.raises(UnknownPluginError, match="disabled by PLAIT_PLUGINS"):
        plugins.lookup("executor", "good")


def test_parsl_class_names_resolve_through_the_registry(site: Path) -> None:
    make_dist(site, "plait-executor-good", "0.5", {"good": "plait_good_mod"}, GOOD)
    with use_plugins(Plugins()):
        from plait.executors import GoodExecutor  # type: ignore[attr-defined]

        assert GoodExecutor.plugin_name == "good"
        with pytest.raises(ImportError, match="pip install plait-executor-workqueue"):
            from plait.executors import WorkQueueExecutor  # type: ignore[attr-defined]  # noqa: F401
        with pytest.raises(ImportError, match="pip install plait-executor-flux"):
            from plait.executors import FluxExecutor  # type: ignore[attr-defined]  # noqa: F401


class Recorder:
    """An observer plugin that records every event it sees."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def plait_workflow_started(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def plait_task_state_changed(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def plait_block_state_changed(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def plait_workflow_finished(self, event: Any) -> None:
        self.events.append(event)


class Raiser:
    @hookimpl
    def plait_task_state_changed(self, event: Any) -> None:
        raise RuntimeError("observer bug")


@plait.python_app
def add(a: int, b: int) -> int:
    return a + b


@plait.python_app
def fail() -> None:
    raise ValueError("bad input")


def test_observer_hooks_see_the_workflow(make_config) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    plugins = Plugins(autoload=False)
    plugins.register(recorder, "recorder")
    plugins.register(Raiser(), "raiser")
    with use_plugins(plugins), plait.load(make_config()) as dfk:
        assert add(add(1, 2), 3).result(timeout=10) == 6
        assert isinstance(fail().exception(timeout=10), ValueError)
        plugins.notify_block_state(
            BlockStateChanged(dfk.run_id, "threads", "0", None, "RUNNING", 0.0)
        )
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds[0] == "WorkflowStarted" and kinds[-1] == "WorkflowFinished"
    assert recorder.events[-1].task_counts["exec_done"] == 2
    task_events = [e for e in recorder.events if isinstance(e, TaskStateChanged)]
    second = [e.state for e in task_events if e.task_id == 1]
    assert second == ["pending", "launched", "running", "exec_done"]
    assert next(e.depends for e in task_events if e.task_id == 1) == (0,)
    failed = [e for e in task_events if e.state == "failed"]
    assert failed and failed[0].error == "ValueError: bad input"
    assert any(isinstance(e, BlockStateChanged) for e in recorder.events)


def test_no_observer_means_no_task_events(make_config) -> None:  # type: ignore[no-untyped-def]
    with use_plugins(Plugins(autoload=False)), plait.load(make_config()) as dfk:
        assert dfk._observe_tasks is False
        assert add(1, 1).result(timeout=10) == 2


def test_monitoring_object_is_an_observer_for_its_run(make_config) -> None:  # type: ignore[no-untyped-def]
    hub = Recorder()
    with use_plugins(Plugins(autoload=False)) as plugins, plait.load(make_config(monitoring=hub)):
        add(1, 1).result(timeout=10)
        assert plugins.observes("plait_task_state_changed")
    assert not plugins.observes("plait_task_state_changed")
    assert any(isinstance(e, TaskStateChanged) for e in hub.events)


def test_site_configs_from_a_plugin(run_dir: str) -> None:
    module = types.ModuleType("site_plugin")

    def centre(account: str = "none") -> plait.Config:
        return plait.Config(
            executors=[ThreadPoolExecutor(label=f"centre-{account}")], run_dir=run_dir
        )

    @hookimpl
    def plait_register_site_configs(registry: Any) -> None:
        registry.add_site("my-centre", centre, "the centre's login nodes")

    module.plait_register_site_configs = plait_register_site_configs  # type: ignore[attr-defined]
    plugins = Plugins(autoload=False)
    plugins.register(module, "site-plugin")
    with use_plugins(plugins):
        config = plait.site_config("my-centre", account="m42")
        assert config.executors[0].label == "centre-m42"
        assert plait.Config.from_dict({"site": "my-centre"}).executors[0].label == "centre-none"
        with pytest.raises(UnknownPluginError, match="my-centre"):
            plait.site_config("my-centr")
    assert ("site-config", "my-centre") in {(r.kind, r.name) for r in plugins.info()}


def test_executor_subclass_from_plugin_runs_tasks(make_config) -> None:  # type: ignore[no-untyped-def]
    class Counting(ThreadPoolExecutor):
        plugin_name = "counting"
        submitted = 0

        def submit(self, func: Any, resource_specification: Any, *args: Any, **kwargs: Any) -> Any:
            type(self).submitted += 1
            return super().submit(func, resource_specification, *args, **kwargs)

    assert issubclass(Counting, Executor)

    class Registers:
        @hookimpl
        def plait_register_executors(self, registry: Any) -> None:
            registry.add(Counting)

    plugins = Plugins(autoload=False)
    plugins.register(Registers(), "counting-plugin")
    with use_plugins(plugins):
        config = plait.Config.from_dict(
            {"executors": [{"type": "counting", "label": "c"}], "run_dir": make_config().run_dir}
        )
        with plait.load(config):
            assert add(2, 2).result(timeout=10) == 4
    assert Counting.submitted == 1


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_plugins_json_lists_builtin_and_third_party() -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("executor", "threads")]["distribution"] == "plait"
    toy = by_name[("provider", "toy")]
    assert toy["distribution"] == "plait-provider-toy" and toy["status"] == "ok"
    assert toy["module"] == "plait_provider_toy.provider" and toy["version"]


def test_cli_plugins_shows_a_broken_plugin(site: Path) -> None:
    make_dist(site, "plait-executor-broken", "1.2.3", {"broken": "plait_broken_mod"}, BROKEN)
    import os

    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = run_cli("plugins", env=env)
    assert result.returncode == 1
    assert "broken" in result.stdout and "error" in result.stdout
    assert "boom at import" in result.stdout
    env["PLAIT_DISABLE_PLUGINS"] = "broken"
    assert run_cli("plugins", env=env).returncode == 0


def test_cli_version_and_perf_json() -> None:
    assert "plait " in run_cli("version").stdout
    result = run_cli("perf", "--only", "noop,chain", "--noop-n", "200", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["system"] == "plait" and report["executor"] == "threads"
    assert report["results"]["noop_n"] == 200 and report["results"]["chain_1000_s"] > 0
    bad = run_cli("perf", "--only", "nope")
    assert bad.returncode == 2 and "unknown benchmark" in bad.stderr


def test_every_registration_hook_registers_from_a_third_party_plugin() -> None:
    from plait.data_provider.staging import NoOpFileStaging
    from plait.launchers.simple import SimpleLauncher
    from plait.serialize.builtin import PickleSerializer

    class MyProvider(LocalProvider):
        plugin_name = "mine"

    class MyLauncher(SimpleLauncher):
        plugin_name = "my-launcher"

    class MySerializer(PickleSerializer):
        plugin_name = "my-pickle"

    class MyStaging(NoOpFileStaging):
        plugin_name = "my-scheme"
        schemes = ("mine",)

    class ThirdParty:
        @hookimpl
        def plait_register_providers(self, registry: Any) -> None:
            registry.add(MyProvider)

        @hookimpl
        def plait_register_launchers(self, registry: Any) -> None:
            registry.add(MyLauncher)

        @hookimpl
        def plait_register_serializers(self, registry: Any) -> None:
            registry.add(MySerializer)

        @hookimpl
        def plait_register_staging(self, registry: Any) -> None:
            registry.add(MyStaging)

    plugins = Plugins(autoload=False)
    plugins.register(ThirdParty(), "third-party")
    assert plugins.lookup("provider", "mine") is MyProvider
    assert plugins.lookup("launcher", "my-launcher") is MyLauncher
    assert plugins.lookup("serializer", "my-pickle") is MySerializer
    assert plugins.lookup("staging", "my-scheme") is MyStaging
    listed = {(r.kind, r.name, r.plugin) for r in plugins.info()}
    assert ("provider", "mine", "third-party") in listed
    assert ("staging", "my-scheme", "third-party") in listed


def test_cli_perf_with_config_files(tmp_path: Path) -> None:
    toml = tmp_path / "cfg.toml"
    toml.write_text('[[executors]]\ntype = "threads"\nlabel = "t"\nmax_threads = 3\n')
    py = tmp_path / "cfg.py"
    py.write_text(
        "from plait import Config, ThreadPoolExecutor\n"
        "def fresh_config():\n    return Config(executors=[ThreadPoolExecutor(label='p')])\n"
    )
    for path in (toml, py):
        result = run_cli("perf", "--config", str(path), "--only", "roundtrip", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["executor"] == path.name and report["results"]["roundtrip_median_ms"] > 0


def test_load_by_site_name_and_from_dict_overrides(run_dir: str) -> None:
    module = types.ModuleType("site_plugin_2")

    def centre(workers: int = 1) -> plait.Config:
        return plait.Config(executors=[ThreadPoolExecutor(label="c", max_threads=workers)])

    @hookimpl
    def plait_register_site_configs(registry: Any) -> None:
        registry.add_site("centre", centre)

    module.plait_register_site_configs = plait_register_site_configs  # type: ignore[attr-defined]
    plugins = Plugins(autoload=False)
    plugins.register(module, "site-plugin-2")
    with use_plugins(plugins):
        config = plait.Config.from_dict(
            {"site": "centre", "site_options": {"workers": 3}, "retries": 2, "run_dir": run_dir}
        )
        assert config.retries == 2 and config.run_dir == run_dir
        assert config.executors[0].max_threads == 3  # type: ignore[attr-defined]
        with pytest.raises(plait.errors.ConfigError, match="retires"):
            plait.Config.from_dict({"site": "centre", "retires": 2})
        import os

        cwd = os.getcwd()
        os.chdir(os.path.dirname(run_dir) or ".")
        try:
            with plait.load("centre", workers=2) as dfk:
                assert dfk.executors["c"].max_threads == 2  # type: ignore[attr-defined]
                assert add(1, 2).result(timeout=10) == 3
        finally:
            os.chdir(cwd)


RECURSIVE = {
    "plait_recursive_mod": """
        from plait.executors import ThreadPoolExecutor  # fine: a core name
        from plait.executors import SomePluginExecutor  # looks plugins up while they load
    """
}


def test_plugin_that_looks_up_plugins_at_import_fails_to_load_instead_of_deadlocking(
    site: Path,
) -> None:
    from plait.plugins import manager

    make_dist(
        site, "plait-executor-recursive", "0.1", {"recursive": "plait_recursive_mod"}, RECURSIVE
    )
    manager.reset_plugins()
    try:
        with pytest.warns(RuntimeWarning, match="while plugins were being loaded"):
            plugins = manager.get_plugins()
        assert "recursive" in plugins.load_errors
        assert plugins.executors.get("threads") is ThreadPoolExecutor
    finally:
        manager.reset_plugins()
