"""The ``plait`` command (also ``python -m plait``): ``plugins``, ``perf``, ``version``,
and the subcommands plugins register (:class:`Command`, ``plait_register_commands``)."""

from __future__ import annotations

import argparse
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict
from typing import ClassVar

#: Core's own subcommands; a plugin command of the same name is left out.
CORE_COMMANDS = ("version", "plugins", "perf")


class Command(ABC):
    """A ``plait`` subcommand that a plugin contributes.

    Register the class with ``plait_register_commands``; its ``plugin_name`` is
    the subcommand's name. Keep the module that defines it cheap to import (the
    ``plait`` command imports it on every run): import heavy libraries in
    :meth:`run`.
    """

    plugin_name: ClassVar[str]
    #: one line for ``plait --help``.
    help: ClassVar[str] = ""

    def configure(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027 (optional)
        """Add this command's arguments, or its own subcommands, to ``parser``; a
        command without arguments need not override this."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Run with the parsed arguments; the result is the exit status."""


def _cmd_version(args: argparse.Namespace) -> int:
    from plait.__about__ import __version__

    print(f"plait {__version__} (Python {sys.version.split()[0]})")
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from plait.plugins import get_plugins

    rows = get_plugins().info()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    headers = ("kind", "name", "distribution", "version", "module", "status")
    table = [headers] + [
        (r.kind, r.name, r.distribution, r.version, r.module, r.status) for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for row in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for r in rows:
        if r.status == "error":
            print(f"\nerror: {r.error}")
    return 1 if any(r.status == "error" for r in rows) else 0


def _cmd_perf(args: argparse.Namespace) -> int:
    if args.list:
        from plait.perf import list_benchmarks

        print(list_benchmarks())
        return 0
    from plait.perf import main_perf

    return main_perf(args.executor, args.config, args.only, args.noop_n, args.mem_n, args.json)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="plait", description="plait: parallel scripting in Python"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    version = sub.add_parser("version", help="print plait's version")
    version.set_defaults(func=_cmd_version)

    plugins = sub.add_parser("plugins", help="list installed plugins and what they provide")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=_cmd_plugins)

    perf = sub.add_parser("perf", help="run the standard benchmarks")
    target = perf.add_mutually_exclusive_group()
    target.add_argument("--executor", help="a registered executor name (default: threads)")
    target.add_argument("--config", help="a .py (config / fresh_config()) or .toml config file")
    perf.add_argument(
        "--only",
        help="comma-separated benchmarks: noop,roundtrip,chain,fan,memory,startup,echo or a "
        "plugin's (default: core's, but memory)",
    )
    perf.add_argument("--list", action="store_true", help="name every benchmark, plugins' too")
    perf.add_argument("--noop-n", type=int, default=20_000, help="tasks in the no-op benchmark")
    perf.add_argument("--mem-n", type=int, default=100_000, help="tasks in the memory benchmark")
    perf.add_argument("--json", action="store_true", help="print one JSON object")
    perf.set_defaults(func=_cmd_perf)
    _add_plugin_commands(sub)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add every registered plugin command. A plugin problem never breaks core's commands
    (``plait plugins`` above all, the tool for finding it): a clash with a core command
    is reported on stderr and left out, and a command whose set-up raised says why
    when it is run."""
    from plait.plugins import PluginError, get_plugins

    try:
        registry = get_plugins().commands
        commands = list(registry.items())
    except PluginError as exc:
        print(f"plait: plugin commands are unavailable: {exc}", file=sys.stderr)
        return
    for name, cls in commands:
        source = registry.source(name)
        if name in CORE_COMMANDS:
            print(
                f"plait: {source} registers command {name!r}, which is core's; left out",
                file=sys.stderr,
            )
            continue
        parser = sub.add_parser(name, help=cls.help, description=cls.help)
        try:
            command = cls()
            command.configure(parser)
        except Exception as exc:
            parser.set_defaults(func=_BrokenCommand(name, str(source), exc))
            continue
        parser.set_defaults(func=command.run)


class _BrokenCommand:
    """Stands in for a plugin command whose set-up raised: running it says why."""

    def __init__(self, name: str, source: str, error: Exception) -> None:
        self.message = (
            f"plait: command {name!r} from {source} failed to set up: "
            f"{type(error).__name__}: {error}"
        )

    def __call__(self, args: argparse.Namespace) -> int:
        print(self.message, file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``plait`` command line."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
