#!/usr/bin/env bash
# The reference Parsl in a venv of its own, outside the repository, for side_by_side.py.
set -euo pipefail
venv="${1:-/opt/parsl-venv}"
command -v uv >/dev/null || python3 -m pip install --quiet uv
uv venv "$venv" --python 3.11
VIRTUAL_ENV="$venv" uv pip install parsl==2026.10.26 psutil
"$venv/bin/python" -c "import parsl; print('parsl', parsl.__version__, 'in', '$venv')"
