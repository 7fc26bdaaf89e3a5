"""A small real workflow on this machine: local HTEX (worker processes) when
plait-executor-htex is installed, threads otherwise.

Run it with:  python examples/quickstart.py
"""

import plait
from plait import Config, bash_app, join_app, python_app
from plait.plugins import UnknownPluginError


@python_app
def square(x: int) -> int:
    return x * x


@python_app
def total(inputs: list[int] = ()) -> int:  # type: ignore[assignment]
    return sum(inputs)


@bash_app
def hostname(stdout: str | None = None) -> str:
    return "echo ran on $(hostname)"


@join_app
def fib(n: int):  # type: ignore[no-untyped-def]
    if n < 2:
        return square(n)  # 0 or 1
    return total(inputs=[fib(n - 1), fib(n - 2)])


def local_config() -> Config:
    """Local HTEX if its plugin is installed (found by name, like any plugin)."""
    try:
        return Config.from_dict({"executors": [{"type": "htex", "label": "local"}]})
    except UnknownPluginError:
        return Config()


def main() -> None:
    with plait.load(local_config()) as dfk:
        print("executor:", type(dfk.executors[dfk._user_labels[0]]).__name__)
        squares = [square(i) for i in range(10)]
        print("sum of squares 0..9:", total(inputs=squares).result())
        print("fib(12) through join apps:", fib(12).result())
        out = f"{dfk.run_dir}/hostname.out"
        hostname(stdout=out).result()
        with open(out) as f:
            print("bash app says:", f.read().strip())
        print("tasks by state:", {k: v for k, v in dfk.task_counts().items() if v})
        print("run directory:", dfk.run_dir)


if __name__ == "__main__":
    main()
