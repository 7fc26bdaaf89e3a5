"""Who may read the UI: anyone on a loopback bind, only token holders elsewhere.

A server bound to 127.0.0.1 is reachable from this machine only, so it needs no
token; it still refuses requests whose ``Host`` header names another site, so a
web page the user visits cannot read it through DNS rebinding. A server bound
to any other address (0.0.0.0, a LAN address) requires a random token: the URL
printed at start carries it as ``?token=``, the first request with it gets a
cookie (HttpOnly, SameSite=Strict) and a redirect to the same URL without it,
so the token does not linger in the address bar or the history.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

#: bytes of randomness in a generated token
TOKEN_BYTES = 24
TOKEN_PARAM = "token"
#: the package's own scripts and style sheet: the same for everyone, so even the page
#: that asks for the token is styled
PUBLIC_PREFIX = "/static/"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` makes the server reachable from this machine only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


@dataclass(frozen=True)
class Verdict:
    """What to do with a request: serve it (``status`` 200), redirect, or refuse.

    :param set_cookie: a ``Set-Cookie`` value to send with the response.
    :param location: where to redirect (status 303).
    """

    status: int
    reason: str = ""
    set_cookie: str | None = None
    location: str | None = None


ALLOW = Verdict(200)


@dataclass(frozen=True)
class Access:
    """The access rule of one server.

    :param token: what clients must present; None lets every request from an
        allowed host in.
    :param port: the server's port; it names the cookie, because cookies are not
        kept apart by port and two servers on one host have different tokens.
    """

    token: str | None
    port: int

    @classmethod
    def for_bind(cls, host: str, port: int, token: str | None) -> Access:
        """The rule for a server bound to ``host``: ``token`` if given, else a new
        random one unless ``host`` is a loopback address."""
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(TOKEN_BYTES)
        return cls(token, port)

    @property
    def cookie_name(self) -> str:
        return f"plait_monitoring_{self.port}"

    def check(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Verdict:
        """The verdict on a request for ``path`` with ``query`` and (lower-cased) ``headers``."""
        if path.startswith(PUBLIC_PREFIX):
            return ALLOW
        if self.token is None:
            if not _local_host_header(headers.get("host", "")):
                return Verdict(403, "this server answers requests for localhost only")
            return ALLOW
        given = query.get(TOKEN_PARAM)
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            rest = {k: v for k, v in query.items() if k != TOKEN_PARAM}
            location = path + (f"?{urlencode(rest)}" if rest else "")
            cookie = f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            return Verdict(303, set_cookie=cookie, location=location)
        held = _cookie(headers.get("cookie", ""), self.cookie_name)
        if held is not None and hmac.compare_digest(held.encode(), self.token.encode()):
            return ALLOW
        return Verdict(
            401,
            "this server needs its token: open the URL it printed when it started "
            f"(the one ending in ?{TOKEN_PARAM}=...)",
        )


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _local_host_header(host_header: str) -> bool:
    """Whether a ``Host`` header names this machine (not a site that resolves to it)."""
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    host = host.strip("[]").lower()
    if host in ("localhost", socket.gethostname().lower()) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
