"""The monitoring and command registries: a plugin's hub by name, and its ``plait`` subcommands."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import plait
from plait.cli import Command, main
from plait.config import Config
from plait.errors import ConfigError
from plait.events import TaskStateChanged
from plait.monitoring import Monitor
from plait.plugins import DuplicatePluginError, Plugins, hookimpl
from plait.plugins.manager import use_plugins


class ListHub(Monitor):
    """A monitoring hub that keeps its run's task events in a list."""

    plugin_name = "list-hub"

    def __init__(self, label: str = "hub") -> None:
        self.label = label
        self.run_id: str | None = None
        self.events: list[TaskStateChanged] = []
        self.closed = False

    def start(self, run_id: str, run_dir: str, config: Config) -> None:
        self.run_id = run_id

    def close(self) -> None:
        self.closed = True

    @hookimpl
    def plait_task_state_changed(self, event: TaskStateChanged) -> None:
        if event.run_id == self.run_id:
            self.events.append(event)


class Hello(Command):
    plugin_name = "hello"
    help = "say hello"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", default="world")

    def run(self, args: argparse.Namespace) -> int:
        print(f"hello {args.name}")
        return 3


class Shadow(Command):
    plugin_name = "plugins"  # core's: must be left out

    def run(self, args: argparse.Namespace) -> int:
        raise AssertionError("core's `plait plugins` must win")


class Broken(Command):
    plugin_name = "broken"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        raise RuntimeError("bad option table")

    def run(self, args: argparse.Namespace) -> int:
        raise AssertionError("never runs")


class ThirdParty:
    @hookimpl
    def plait_register_monitoring(self, registry: Any) -> None:
        registry.add(ListHub)

    @hookimpl
    def plait_register_commands(self, registry: Any) -> None:
        for command in (Hello, Shadow, Broken):
            registry.add(command)


@pytest.fixture
def plugins() -> Any:
    plugins = Plugins(autoload=False)
    plugins.register(ThirdParty(), "third-party")
    with use_plugins(plugins):
        yield plugins


@plait.python_app
def inc(x: int) -> int:
    return x + 1


def test_monitoring_hub_registered_by_a_plugin_is_selected_by_name(
    plugins: Plugins, run_dir: str
) -> None:
    assert plugins.lookup("monitoring", "list-hub") is ListHub
    assert plugins.monitoring.source("list-hub").plugin == "third-party"
    config = Config.from_dict(
        {"run_dir": run_dir, "monitoring": {"type": "list-hub", "label": "mine"}}
    )
    hub = config.monitoring
    assert isinstance(hub, ListHub) and hub.label == "mine"
    with plait.load(config):
        assert inc(1).result(timeout=10) == 2
    assert [e.state for e in hub.events] == ["pending", "launched", "running", "exec_done"]
    assert hub.closed
    toml = f'run_dir = "{run_dir}"\n[monitoring]\ntype = "list-hub"\n'
    assert isinstance(Config.from_toml(toml).monitoring, ListHub)


def test_monitoring_by_name_rejects_unknown_keys_and_types(plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match="did you mean 'label'"):
        Config.from_dict({"monitoring": {"type": "list-hub", "labl": "x"}})
    with pytest.raises(ConfigError, match='"type": "monitoring"'):
        Config.from_dict({"monitoring": {"label": "x"}})
    with pytest.raises(plait.plugins.UnknownPluginError, match="pip install plait-monitoring-"):
        Config.from_dict({"monitoring": {"type": "nope"}})


def test_monitoring_classes_import_from_plait_monitoring(plugins: Plugins) -> None:
    from plait.monitoring import ListHub as Imported  # type: ignore[attr-defined]

    assert Imported is ListHub
    # Parsl's class, from a plugin that is not installed here: the error names the package
    with pytest.raises(ImportError, match=r"`pip install plait-monitoring`"):
        from plait.monitoring import MonitoringHub  # type: ignore[attr-defined]  # noqa: F401


def test_monitor_base_class_is_enforced() -> None:
    class NotAHub:
        plugin_name = "not-a-hub"

    class Registers:
        @hookimpl
        def plait_register_monitoring(self, registry: Any) -> None:
            registry.add(NotAHub)

    fresh = Plugins(autoload=False)
    fresh.register(Registers(), "registers")
    assert "not-a-hub" not in fresh.monitoring
    assert "is not a subclass of plait.monitoring.Monitor" in str(fresh.load_errors["registers"])


def test_plugin_command_runs_and_core_commands_win(
    plugins: Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hello", "--name", "plait"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "hello plait\n"
    assert "registers command 'plugins', which is core's; left out" in captured.err
    assert main(["plugins", "--json"]) == 0  # core's own, untouched
    listed = {(r.kind, r.name) for r in plugins.info()}
    assert {("command", "hello"), ("monitoring", "list-hub")} <= listed


def test_plugin_command_that_fails_to_set_up_says_why(
    plugins: Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["broken"]) == 1
    err = capsys.readouterr().err
    assert "command 'broken' from" in err and "RuntimeError: bad option table" in err
    assert main(["version"]) == 0


def test_clashing_plugin_commands_leave_core_commands_working(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Other:
        @hookimpl
        def plait_register_commands(self, registry: Any) -> None:
            registry.add(type("Hello2", (Hello,), {}))

    plugins = Plugins(autoload=False)
    plugins.register(ThirdParty(), "third-party")
    plugins.register(Other(), "other")
    with use_plugins(plugins):
        with pytest.raises(DuplicatePluginError):
            plugins.commands  # noqa: B018
        assert main(["version"]) == 0
    err = capsys.readouterr().err
    assert "plugin commands are unavailable" in err and "'hello' is registered twice" in err
