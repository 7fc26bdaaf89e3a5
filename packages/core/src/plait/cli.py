"""The ``plait`` command (also ``python -m plait``): ``plugins``, ``perf``, ``version``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict


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
        help="comma-separated benchmarks: noop,roundtrip,chain,fan,memory "
        "(default: all but memory)",
    )
    perf.add_argument("--noop-n", type=int, default=20_000, help="tasks in the no-op benchmark")
    perf.add_argument("--mem-n", type=int, default=100_000, help="tasks in the memory benchmark")
    perf.add_argument("--json", action="store_true", help="print one JSON object")
    perf.set_defaults(func=_cmd_perf)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``plait`` command line."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
