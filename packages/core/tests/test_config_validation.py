"""Config(...) rejects bad values with a ConfigError that names the field and what is valid."""

from __future__ import annotations

import pytest

import plait
from plait import Config, ThreadPoolExecutor
from plait.errors import ConfigError, ConfigurationError, NoDataFlowKernelError, PlaitError


def test_defaults_are_valid():
    config = Config()
    assert config.exit_mode == "wait"
    assert config.retries == 0
    assert config.strategy == "simple"
    assert len(config.executors) == 1
    assert isinstance(config.executors[0], ThreadPoolExecutor)


def test_config_error_is_parsl_configuration_error():
    assert ConfigurationError is ConfigError
    assert issubclass(ConfigError, PlaitError)


def test_bad_exit_mode_names_field_and_valid_values():
    with pytest.raises(ConfigError) as info:
        Config(exit_mode="later")
    exc = info.value
    assert exc.field == "exit_mode"
    assert exc.value == "later"
    for mode in ("wait", "cleanup", "skip"):
        assert repr(mode) in str(exc)
    assert "'later'" in str(exc)


def test_bad_strategy_names_field_and_valid_values():
    with pytest.raises(ConfigError) as info:
        Config(strategy="fastest")
    assert info.value.field == "strategy"
    for name in ("simple", "htex_auto_scale", "none"):
        assert repr(name) in str(info.value)


def test_strategy_none_means_no_scaling():
    assert Config(strategy=None).strategy == "none"


@pytest.mark.parametrize("retries", [-1, "2", 1.5, None])
def test_bad_retries(retries):
    with pytest.raises(ConfigError) as info:
        Config(retries=retries)
    assert info.value.field == "retries"
    assert "integer >= 0" in str(info.value)


@pytest.mark.parametrize("value", [4, -1, True, "1"])
def test_bad_usage_tracking(value):
    with pytest.raises(ConfigError) as info:
        Config(usage_tracking=value)
    assert info.value.field == "usage_tracking"
    assert "0, 1, 2 or 3" in str(info.value)


@pytest.mark.parametrize("value", [0, 1, 2, 3])
def test_good_usage_tracking(value):
    assert Config(usage_tracking=value).usage_tracking == value


@pytest.mark.parametrize("value", [0, -5, 2.5])
def test_bad_max_outstanding_tasks(value):
    with pytest.raises(ConfigError, match="max_outstanding_tasks"):
        Config(max_outstanding_tasks=value)


def test_bad_initialize_logging():
    with pytest.raises(ConfigError, match="initialize_logging"):
        Config(initialize_logging="verbose")


def test_duplicate_executor_labels():
    with pytest.raises(ConfigError) as info:
        Config(executors=[ThreadPoolExecutor(label="same"), ThreadPoolExecutor(label="same")])
    assert info.value.field == "executors"
    assert "same" in str(info.value)
    assert "unique" in str(info.value)


def test_distinct_executor_labels_are_fine():
    config = Config(executors=[ThreadPoolExecutor(label="a"), ThreadPoolExecutor(label="b")])
    assert [e.label for e in config.executors] == ["a", "b"]


def test_non_executor_in_executors():
    with pytest.raises(ConfigError, match="executors"):
        Config(executors=["threads"])


def test_bad_max_threads():
    with pytest.raises(ConfigError, match="max_threads"):
        ThreadPoolExecutor(max_threads=0)


def test_executors_are_read_only():
    config = Config()
    with pytest.raises(AttributeError):
        config.executors = []  # type: ignore[misc]


def test_repr_shows_non_default_fields():
    text = repr(Config(retries=3, exit_mode="cleanup"))
    assert text.startswith("Config(")
    assert "retries=3" in text
    assert "exit_mode='cleanup'" in text


def test_config_error_message_can_be_built_directly():
    exc = ConfigError("field_x", 7, ["a", "b"], "try again")
    assert str(exc) == "invalid value 7 for field_x; valid values: 'a', 'b'; try again"


def test_failed_config_leaves_nothing_loaded():
    with pytest.raises(ConfigError):
        plait.load(Config(exit_mode="bad"))
    with pytest.raises(NoDataFlowKernelError):
        plait.dfk()
