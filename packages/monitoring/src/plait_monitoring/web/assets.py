"""The files the pages load: this package's script and style sheet, and plotly.js.

plotly.js is the copy bundled in the installed ``plotly`` Python package, served
from here, so the pages work on a machine with no internet and always match the
plotly version installed. Each file is read once, gzipped on first demand, and
served with an ETag so browsers revalidate instead of downloading it again.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from plait_monitoring.errors import MonitoringError

STATIC_DIR = Path(__file__).resolve().parent / "static"
PLOTLY_JS = "plotly.min.js"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed plotly package (found without importing plotly).

    :raises MonitoringError: plotly is missing or ships no plotly.min.js.
    """
    spec = importlib.util.find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "package_data" / PLOTLY_JS
        if path.is_file():
            return path
    raise MonitoringError(
        "the web UI draws its charts with plotly.js from the plotly package, which is not "
        "installed (or has no package_data/plotly.min.js): pip install plotly"
    )


@dataclass
class Asset:
    """One static file, in memory."""

    body: bytes
    content_type: str
    etag: str
    gzipped: bytes | None = None


class Assets:
    """The static files by URL name, loaded at start so a missing one fails at once."""

    def __init__(self) -> None:
        paths = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in _TYPES}
        paths[PLOTLY_JS] = plotly_js_path()
        self._assets = {name: _load(path) for name, path in paths.items()}
        self._lock = threading.Lock()

    def get(self, name: str) -> Asset | None:
        return self._assets.get(name)

    def gzipped(self, asset: Asset) -> bytes:
        """``asset``'s body gzipped (compressed once, by one thread)."""
        with self._lock:
            if asset.gzipped is None:
                asset.gzipped = gzip.compress(asset.body, compresslevel=6, mtime=0)
            return asset.gzipped

    def url(self, name: str) -> str:
        """The URL of asset ``name``, versioned by its content so caches never serve an old one."""
        return f"/static/{name}?v={self._assets[name].etag[1:9]}"


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    return Asset(body, _TYPES[path.suffix], f'"{hashlib.sha256(body).hexdigest()[:16]}"')
