"""MonitoringHub takes Parsl's parameters, is found by name and import path, and costs
nothing when a workflow has no hub."""

from __future__ import annotations

from pathlib import Path

import importlib_metadata
import pytest
from monitoring_helpers import double, query, sqlite_url

import plait
from plait import Config
from plait.errors import ConfigError
from plait.plugins import ENTRY_POINT_GROUP, Plugins, get_plugins
from plait.plugins.manager import use_plugins
from plait_monitoring import MonitoringHub
from plait_monitoring.cli import MonitoringCommand

pytestmark = pytest.mark.timeout(60)


def test_parsl_parameters_are_accepted() -> None:
    hub = MonitoringHub(
        hub_address="127.0.0.1",
        hub_port=55055,
        hub_port_range=(55000, 56000),
        workflow_name="nightly",
        workflow_version="3",
        logging_endpoint="sqlite:///mon.db",
        monitoring_debug=True,
        resource_monitoring_enabled=False,
        resource_monitoring_interval=5,
    )
    assert hub.db_url == hub.logging_endpoint == "sqlite:///mon.db"
    assert (hub.workflow_name, hub.workflow_version) == ("nightly", "3")
    assert hub.resource_monitoring_enabled is False and hub.resource_monitoring_interval == 5
    # a printed config reads back as Python
    assert repr(eval(repr(hub), {"MonitoringHub": MonitoringHub})) == repr(hub)


def test_db_url_is_an_alias_of_logging_endpoint() -> None:
    assert MonitoringHub(db_url="sqlite:///a.db").logging_endpoint == "sqlite:///a.db"
    assert MonitoringHub(db_url="sqlite:///a.db", logging_endpoint="sqlite:///a.db").db_url
    with pytest.raises(ConfigError, match="db_url is another name for logging_endpoint"):
        MonitoringHub(db_url="sqlite:///a.db", logging_endpoint="sqlite:///b.db")


def test_bad_values_fail_when_the_hub_is_made() -> None:
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        MonitoringHub(db_url="mysql://db/x")
    with pytest.raises(ConfigError, match="a database URL"):
        MonitoringHub(logging_endpoint="not a url")
    with pytest.raises(ConfigError, match="resource_monitoring_interval"):
        MonitoringHub(resource_monitoring_interval=-1)
    with pytest.raises(ConfigError, match="max_buffered_records"):
        MonitoringHub(max_buffered_records=0)
    # Parsl's bare postgresql:// means psycopg 3 here
    hub = MonitoringHub(db_url="postgresql://u@h/db")
    assert hub.db_url == "postgresql://u@h/db"


def test_entry_point_registers_the_hub_and_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_PLUGINS", raising=False)
    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS", raising=False)
    dist = importlib_metadata.distribution("plait-monitoring")
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    assert (entry_point.name, entry_point.value) == ("monitoring", "plait_monitoring.plugin")
    with use_plugins(Plugins()):
        plugins = get_plugins()
        assert plugins.monitoring.get("monitoring") is MonitoringHub
        assert plugins.commands.get("monitoring") is MonitoringCommand
        assert plugins.monitoring.source("monitoring").distribution == "plait-monitoring"
        from plait.monitoring import MonitoringHub as ParslPath  # type: ignore[attr-defined]

        assert ParslPath is MonitoringHub


def test_hub_by_name_in_toml_records_the_run(runs_root: str) -> None:
    config = Config.from_toml(
        f'run_dir = "{runs_root}"\n'
        "[monitoring]\n"
        'type = "monitoring"\n'
        'workflow_name = "from-toml"\n'
        f'db_url = "{sqlite_url(runs_root)}"\n'
    )
    assert isinstance(config.monitoring, MonitoringHub)
    with plait.load(config) as dfk:
        assert double(2).result(timeout=10) == 4
    rows = query(
        sqlite_url(runs_root),
        "SELECT workflow_name, tasks_completed_count FROM workflow WHERE run_id = :r",
        r=dfk.run_id,
    )
    assert rows == [("from-toml", 1)]
    with pytest.raises(ConfigError, match="did you mean 'workflow_name'"):
        Config.from_dict({"monitoring": {"type": "monitoring", "workflow_nam": "x"}})


def test_a_workflow_without_a_hub_has_no_observer(runs_root: str) -> None:
    """The hub's hooks are registered only for the runs it records: with plait-monitoring
    installed, a workflow without a hub builds no event at all."""
    with use_plugins(Plugins()):
        assert not get_plugins().observes("plait_task_state_changed")
        with plait.load(Config(run_dir=runs_root)) as dfk:
            assert double(1).result(timeout=10) == 2
            assert dfk._observe_tasks is False


def test_one_hub_records_one_run_at_a_time(runs_root: str) -> None:
    hub = MonitoringHub()
    with plait.load(Config(run_dir=runs_root, monitoring=hub)):
        with pytest.raises(ConfigError, match="its own MonitoringHub"):
            plait.DataFlowKernel(Config(run_dir=runs_root, monitoring=hub))
        assert double(3).result(timeout=10) == 6
    # once the run is over, the same hub records the next one
    with plait.load(Config(run_dir=runs_root, monitoring=hub)) as second:
        assert double(4).result(timeout=10) == 8
    assert len(query(sqlite_url(runs_root), "SELECT run_id FROM workflow")) == 2
    assert query(
        sqlite_url(runs_root), "SELECT count(*) FROM task WHERE run_id = :r", r=second.run_id
    ) == [(1,)]


def test_monitoring_debug_writes_the_writers_log(runs_root: str) -> None:
    with plait.load(
        Config(run_dir=runs_root, monitoring=MonitoringHub(monitoring_debug=True))
    ) as dfk:
        assert double(5).result(timeout=10) == 10
    log = Path(dfk.run_dir, "monitoring.log").read_text()
    assert "DEBUG monitoring: wrote" in log and "waiting" in log
