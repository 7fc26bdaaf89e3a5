"""Config.from_dict / Config.from_toml and site configs: configs from plain data."""

from __future__ import annotations

import pytest

import plait
from plait import BasicMemoizer, Config, ThreadPoolExecutor
from plait.errors import ConfigError
from plait.plugins import UnknownPluginError

TIMEOUT = 10


@plait.python_app
def triple(x):
    return 3 * x


def test_from_dict_builds_executors_by_type():
    config = Config.from_dict(
        {"executors": [{"type": "threads", "label": "a", "max_threads": 3}], "retries": 1}
    )
    assert config.retries == 1
    (executor,) = config.executors
    assert isinstance(executor, ThreadPoolExecutor)
    assert executor.label == "a"
    assert executor.max_threads == 3


def test_from_dict_config_runs_tasks(run_dir):
    config = Config.from_dict(
        {"executors": [{"type": "threads", "label": "a", "max_threads": 3}], "run_dir": run_dir}
    )
    with plait.load(config):
        assert triple(2).result(timeout=TIMEOUT) == 6


def test_from_dict_empty_is_defaults():
    config = Config.from_dict({})
    assert config.retries == 0
    assert isinstance(config.executors[0], ThreadPoolExecutor)


def test_from_dict_unknown_key_suggests_close_match():
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"retrys": 2})
    text = str(info.value)
    assert "'retrys'" in text
    assert "did you mean 'retries'?" in text


def test_from_dict_unknown_key_without_close_match_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"zzzzzz": 2})
    assert "'zzzzzz'" in str(info.value)
    assert "'exit_mode'" in str(info.value)


def test_from_dict_unknown_executor_key_suggests_close_match():
    with pytest.raises(ConfigError, match="did you mean 'max_threads'"):
        Config.from_dict({"executors": [{"type": "threads", "max_thread": 2}]})


def test_from_dict_unknown_executor_type_lists_threads():
    with pytest.raises(UnknownPluginError) as info:
        Config.from_dict({"executors": [{"type": "thredas"}]})
    exc = info.value
    assert "threads" in exc.installed
    assert "installed executors: " in str(exc) and "threads" in str(exc).split(";")[1]
    assert exc.closest == "threads"
    assert "thredas" in str(exc)


def test_unknown_plugin_error_is_a_lookup_error():
    with pytest.raises(LookupError):
        Config.from_dict({"executors": [{"type": "no-such-executor"}]})


def test_from_dict_executor_without_type():
    with pytest.raises(ConfigError, match="type"):
        Config.from_dict({"executors": [{"label": "a"}]})


def test_from_dict_accepts_executor_objects():
    executor = ThreadPoolExecutor(label="obj")
    assert Config.from_dict({"executors": [executor]}).executors == (executor,)


def test_from_dict_validates_values():
    with pytest.raises(ConfigError, match="exit_mode"):
        Config.from_dict({"exit_mode": "never"})


def test_from_dict_memoizer_table():
    config = Config.from_dict({"memoizer": {"type": "basic", "checkpoint_mode": "task_exit"}})
    assert isinstance(config.memoizer, BasicMemoizer)
    assert config.memoizer.checkpoint_mode == "task_exit"


def test_from_dict_memoizer_unknown_key():
    with pytest.raises(ConfigError, match="did you mean 'checkpoint_mode'"):
        Config.from_dict({"memoizer": {"checkpoint_mod": "task_exit"}})


def test_from_dict_does_not_modify_input():
    data = {"executors": [{"type": "threads", "label": "a"}], "retries": 1}
    Config.from_dict(data)
    assert data == {"executors": [{"type": "threads", "label": "a"}], "retries": 1}


TOML_TEXT = """
retries = 2
exit_mode = "cleanup"

[[executors]]
type = "threads"
label = "toml"
max_threads = 2
"""


def test_from_toml_text():
    config = Config.from_toml(TOML_TEXT)
    assert config.retries == 2
    assert config.exit_mode == "cleanup"
    assert config.executors[0].label == "toml"
    assert config.executors[0].max_threads == 2


def test_from_toml_file(tmp_path):
    path = tmp_path / "plait.toml"
    path.write_text(TOML_TEXT)
    for source in (str(path), path):
        config = Config.from_toml(source)
        assert config.retries == 2
        assert config.executors[0].label == "toml"


def test_from_toml_file_runs_tasks(tmp_path, run_dir):
    path = tmp_path / "plait.toml"
    path.write_text(f"run_dir = {run_dir!r}\n" + TOML_TEXT)
    config = Config.from_toml(path)
    assert config.run_dir == run_dir
    with plait.load(config) as kernel:
        assert triple(3).result(timeout=TIMEOUT) == 9
    assert kernel.run_dir.startswith(run_dir)


def test_from_toml_unknown_key():
    with pytest.raises(ConfigError, match="did you mean 'retries'"):
        Config.from_toml("retris = 1\n")


def test_from_toml_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Config.from_toml(str(tmp_path / "absent.toml"))


def test_site_local_threads():
    config = Config.from_dict({"site": "local-threads"})
    (executor,) = config.executors
    assert isinstance(executor, ThreadPoolExecutor)
    assert executor.max_threads == 4


def test_site_with_options_runs_tasks(run_dir):
    config = Config.from_dict(
        {"site": "local-threads", "site_options": {"max_threads": 2, "run_dir": run_dir}}
    )
    assert config.executors[0].max_threads == 2
    with plait.load(config):
        assert triple(1).result(timeout=TIMEOUT) == 3


def test_site_from_toml():
    config = Config.from_toml('site = "local-threads"\n[site_options]\nmax_threads = 3\n')
    assert config.executors[0].max_threads == 3


def test_site_with_other_keys_overrides_them():
    assert Config.from_dict({"site": "local-threads", "retries": 2}).retries == 2
    with pytest.raises(ConfigError, match="retries"):
        Config.from_dict({"site": "local-threads", "retrys": 2})


def test_unknown_site_is_unknown_plugin_error():
    with pytest.raises(UnknownPluginError) as info:
        Config.from_dict({"site": "no-such-site"})
    assert "local-threads" in str(info.value)


def test_site_config_function_gives_fresh_configs():
    a = plait.site_config("local-threads")
    b = plait.site_config("local-threads")
    assert a is not b
    assert a.executors[0] is not b.executors[0]


def test_nested_provider_and_launcher_resolve_through_registries(run_dir) -> None:  # type: ignore[no-untyped-def]
    """A block executor from a plugin gets its provider and launcher built by name."""
    from typing import Any

    from plait.executors.threads import ThreadPoolExecutor
    from plait.launchers.simple import WrappedLauncher
    from plait.plugins import Plugins, hookimpl
    from plait.plugins.manager import use_plugins
    from plait.providers.local import LocalProvider

    class WithProvider(ThreadPoolExecutor):
        plugin_name = "with-provider"

        def __init__(self, label: str = "wp", provider: Any = None) -> None:
            super().__init__(label=label)
            self.provider = provider

    class Registers:
        @hookimpl
        def plait_register_executors(self, registry: Any) -> None:
            registry.add(WithProvider)

    plugins = Plugins(autoload=False)
    plugins.register(Registers(), "with-provider")
    with use_plugins(plugins):
        config = plait.Config.from_dict(
            {
                "run_dir": run_dir,
                "executors": [
                    {
                        "type": "with-provider",
                        "provider": {
                            "type": "local",
                            "max_blocks": 3,
                            "launcher": {"type": "wrapped", "prepend": "time"},
                        },
                    }
                ],
            }
        )
        with pytest.raises(plait.plugins.UnknownPluginError, match="launcher 'srun'"):
            plait.Config.from_dict(
                {
                    "executors": [
                        {
                            "type": "with-provider",
                            "provider": {"type": "local", "launcher": {"type": "srun"}},
                        }
                    ]
                }
            )
    provider = config.executors[0].provider  # type: ignore[attr-defined]
    assert isinstance(provider, LocalProvider) and provider.max_blocks == 3
    assert isinstance(provider.launcher, WrappedLauncher) and provider.launcher.prepend == "time"
