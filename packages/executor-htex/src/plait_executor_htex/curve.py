"""CurveZMQ keys for the manager port, made per run in the run directory.

When managers connect from other machines (``address`` not loopback) or the
user asks for ``encrypted=True``, the interchange's manager socket becomes a
CurveZMQ server that only accepts clients holding this run's client key:
traffic is encrypted and a peer without the key never gets a message through.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from typing import Any

import zmq
import zmq.auth

SERVER = "server"
CLIENT = "client"
AUTHORIZED = "authorized"


def needs_encryption(address: str, encrypted: bool) -> bool:
    """Encrypt when asked, or whenever the manager port is reachable from other hosts."""
    if encrypted:
        return True
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address != "localhost"


def create_keys(cert_dir: str) -> str:
    """Create this run's server and client key pairs in ``cert_dir`` (secret files 0600,
    directory 0700); returns ``cert_dir``."""
    os.makedirs(cert_dir, mode=0o700, exist_ok=True)
    os.chmod(cert_dir, 0o700)
    zmq.auth.create_certificates(cert_dir, SERVER)
    zmq.auth.create_certificates(cert_dir, CLIENT)
    for name in os.listdir(cert_dir):
        os.chmod(os.path.join(cert_dir, name), 0o600)
    authorized = os.path.join(cert_dir, AUTHORIZED)
    os.makedirs(authorized, mode=0o700, exist_ok=True)
    shutil.copy(os.path.join(cert_dir, f"{CLIENT}.key"), authorized)
    return cert_dir


def make_server(context: zmq.Context[Any], sock: zmq.Socket[Any], cert_dir: str) -> Any:
    """Make ``sock`` a CurveZMQ server accepting only the run's client key; returns the
    authenticator (stop it when the socket closes)."""
    from zmq.auth.thread import ThreadAuthenticator

    authenticator = ThreadAuthenticator(context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=os.path.join(cert_dir, AUTHORIZED))
    public, secret = zmq.auth.load_certificate(os.path.join(cert_dir, f"{SERVER}.key_secret"))
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_server = True
    return authenticator


def make_client(sock: zmq.Socket[Any], cert_dir: str) -> None:
    """Give ``sock`` the run's client key pair and the server's public key."""
    public, secret = zmq.auth.load_certificate(os.path.join(cert_dir, f"{CLIENT}.key_secret"))
    server_public, _ = zmq.auth.load_certificate(os.path.join(cert_dir, f"{SERVER}.key"))
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server_public
