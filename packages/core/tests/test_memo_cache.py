"""App caching (cache=True) within one run, and how Config turns it on and off."""

from __future__ import annotations

import threading

import pytest

import plait
from plait import BasicMemoizer, File, python_app
from plait.dataflow.memoization import id_for_memo
from plait.errors import ConfigError

TIMEOUT = 10


class Counted:
    """Counts calls of app bodies, by name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def hit(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1


def _apps(counter: Counted):
    @python_app(cache=True)
    def square(x):
        counter.hit("square")
        return x * x

    @python_app(cache=True, ignore_for_cache=["note"])
    def tagged(x, note=""):
        counter.hit("tagged")
        return x

    @python_app
    def uncached(x):
        counter.hit("uncached")
        return x

    return square, tagged, uncached


def test_cache_reuses_result(dfk):
    counter = Counted()
    square, _, _ = _apps(counter)
    first = square(4)
    assert first.result(timeout=TIMEOUT) == 16
    second = square(4)
    assert second.result(timeout=TIMEOUT) == 16
    assert counter.calls["square"] == 1
    assert first.task_status() == "exec_done"
    assert second.task_status() == "memo_done"
    assert dfk.task_counts()["memo_done"] == 1


def test_cache_distinguishes_arguments(dfk):
    counter = Counted()
    square, _, _ = _apps(counter)
    assert square(2).result(timeout=TIMEOUT) == 4
    assert square(3).result(timeout=TIMEOUT) == 9
    assert square(x=2).result(timeout=TIMEOUT) == 4  # keyword call is a different key
    assert counter.calls["square"] == 3


def test_uncached_app_runs_every_time(dfk):
    counter = Counted()
    _, _, uncached = _apps(counter)
    uncached(1).result(timeout=TIMEOUT)
    uncached(1).result(timeout=TIMEOUT)
    assert counter.calls["uncached"] == 2


def test_ignore_for_cache(dfk):
    counter = Counted()
    _, tagged, _ = _apps(counter)
    assert tagged(1, note="first").result(timeout=TIMEOUT) == 1
    assert tagged(1, note="second").result(timeout=TIMEOUT) == 1
    assert counter.calls["tagged"] == 1
    assert tagged(2, note="first").result(timeout=TIMEOUT) == 2
    assert counter.calls["tagged"] == 2


def test_cache_key_uses_resolved_dependency_values(dfk):
    counter = Counted()
    square, _, uncached = _apps(counter)
    assert square(uncached(3)).result(timeout=TIMEOUT) == 9
    assert square(uncached(3)).result(timeout=TIMEOUT) == 9
    assert counter.calls["square"] == 1


def test_cache_handles_containers_and_files(dfk, tmp_path):
    counter = Counted()

    @python_app(cache=True)
    def describe(data, files):
        counter.hit("describe")
        return len(data) + len(files)

    args = ({"a": [1, 2], "b": (3, {4})}, [File(str(tmp_path / "f"))])
    assert describe(*args).result(timeout=TIMEOUT) == 3
    assert describe(*args).result(timeout=TIMEOUT) == 3
    assert counter.calls["describe"] == 1


def test_unhashable_argument_fails_task_with_hint(dfk):
    @python_app(cache=True)
    def takes_object(obj):
        return 1

    class Opaque:
        pass

    exc = takes_object(Opaque()).exception(timeout=TIMEOUT)
    assert isinstance(exc, ValueError)
    assert "Opaque" in str(exc)
    assert "ignore_for_cache" in str(exc)


def test_id_for_memo_can_be_extended(dfk):
    class Point:
        def __init__(self, x):
            self.x = x

    @id_for_memo.register(Point)
    def _point_id(p, output_ref=False):
        return id_for_memo(p.x, output_ref)

    counter = Counted()

    @python_app(cache=True)
    def norm(p):
        counter.hit("norm")
        return abs(p.x)

    assert norm(Point(-3)).result(timeout=TIMEOUT) == 3
    assert norm(Point(-3)).result(timeout=TIMEOUT) == 3
    assert counter.calls["norm"] == 1


def test_failure_is_cached_in_memory(dfk):
    counter = Counted()

    @python_app(cache=True)
    def broken(x):
        counter.hit("broken")
        raise RuntimeError(f"broken {x}")

    with pytest.raises(RuntimeError):
        broken(1).result(timeout=TIMEOUT)
    with pytest.raises(RuntimeError, match="broken 1"):
        broken(1).result(timeout=TIMEOUT)
    assert counter.calls["broken"] == 1


def test_new_style_memoizer_config(make_config):
    counter = Counted()
    square, _, _ = _apps(counter)
    with plait.load(make_config(memoizer=BasicMemoizer())):
        square(5).result(timeout=TIMEOUT)
        square(5).result(timeout=TIMEOUT)
    assert counter.calls["square"] == 1


def test_new_style_memoizer_can_disable_caching(make_config):
    counter = Counted()
    square, _, _ = _apps(counter)
    with plait.load(make_config(memoizer=BasicMemoizer(memoize=False))):
        square(5).result(timeout=TIMEOUT)
        square(5).result(timeout=TIMEOUT)
    assert counter.calls["square"] == 2


def test_old_style_app_cache_false_disables_caching(make_config):
    counter = Counted()
    square, _, _ = _apps(counter)
    with plait.load(make_config(app_cache=False)):
        square(5).result(timeout=TIMEOUT)
        square(5).result(timeout=TIMEOUT)
    assert counter.calls["square"] == 2


def test_old_style_app_cache_true_enables_caching(make_config):
    counter = Counted()
    square, _, _ = _apps(counter)
    with plait.load(make_config(app_cache=True)):
        square(5).result(timeout=TIMEOUT)
        square(5).result(timeout=TIMEOUT)
    assert counter.calls["square"] == 1


@pytest.mark.parametrize(
    "old_style",
    [{"app_cache": True}, {"checkpoint_mode": "task_exit"}, {"checkpoint_files": []}],
)
def test_memoizer_and_old_style_options_together_is_config_error(make_config, old_style):
    with pytest.raises(ConfigError) as info:
        make_config(memoizer=BasicMemoizer(), **old_style)
    assert next(iter(old_style)) in str(info.value)
    assert "memoizer" in str(info.value)


def test_bad_checkpoint_mode_is_config_error():
    with pytest.raises(ConfigError, match="checkpoint_mode"):
        BasicMemoizer(checkpoint_mode="sometimes")
    with pytest.raises(ConfigError, match="checkpoint_mode"):
        plait.Config(checkpoint_mode="sometimes")


def test_periodic_without_period_is_config_error():
    with pytest.raises(ConfigError, match="checkpoint_period"):
        BasicMemoizer(checkpoint_mode="periodic")
