"""``File``: a URL-addressed file that apps take as ``inputs`` and produce as ``outputs``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse


class File(os.PathLike[str]):
    """A file named by a URL (``file:///data/x.csv``, ``https://...``) or a plain path.

    A plain path is a ``file`` URL. ``filepath`` is where the file is on the
    machine running the task: ``local_path`` once a staging provider has put it
    there, otherwise the URL's path for ``file`` URLs.

    :param url: a URL or a path (``str`` or ``os.PathLike``).
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = os.fspath(url) if not isinstance(url, str) else url
        parsed = urlparse(self.url)
        self.scheme = parsed.scheme or "file"
        self.netloc = parsed.netloc
        self.path = parsed.path
        self.filename = os.path.basename(self.path)
        self.local_path: str | None = None

    @property
    def filepath(self) -> str:
        """The path to open on the machine running the task.

        :raises ValueError: the file is remote and has not been staged in.
        """
        if self.local_path is not None:
            return self.local_path
        if self.scheme == "file":
            return self.path
        raise ValueError(
            f"{self.url} is a {self.scheme!r} file that has not been staged to a local path; "
            "pass it in an app's inputs= so a staging provider fetches it"
        )

    def cleancopy(self) -> File:
        """A copy of this File with no staging state."""
        return File(self.url)

    def __fspath__(self) -> str:
        return self.filepath

    def __str__(self) -> str:
        return self.filepath

    def __repr__(self) -> str:
        extra = f" local_path={self.local_path!r}" if self.local_path else ""
        return f"<File {self.url!r}{extra}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and (self.url, self.local_path) == (
            other.url,
            other.local_path,
        )

    def __hash__(self) -> int:
        return hash(self.url)

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)
