"""Peers that are not who they should be: other versions, garbage, no token.

These tests talk to a running interchange through raw ZeroMQ sockets on
127.0.0.1, as a stray or hostile process on the same machine would.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import htex_apps
import pytest
import zmq
from htex_helpers import HB_THRESHOLD, TASK_TIMEOUT, Loaded

from plait.testing import process_alive, wait_until
from plait_executor_htex import protocol

FORGED = "plait 0.0.0-forged / plait-executor-htex 0.0.0-forged / Python 2.7"


class Bomb:
    """Unpickling this creates a directory: proof that untrusted bytes were unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context]:
    context = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


def _dealer(context: zmq.Context, port: int, identity: bytes | None = None) -> zmq.Socket:
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock


def _reply(sock: zmq.Socket, timeout: float = 5.0) -> list[bytes]:
    assert sock.poll(int(timeout * 1000)), f"no reply within {timeout:g} s"
    return sock.recv_multipart()


def _token(loaded: Loaded) -> str:
    return Path(loaded.executor._token_file).read_text().strip()


def _ports(loaded: Loaded) -> tuple[int, int]:
    ports = loaded.executor._ports
    assert ports is not None
    return ports


def _registration(token: str, versions: str, **extra: object) -> bytes:
    info = {
        "token": token,
        "versions": versions,
        "uid": "forged-manager",
        "hostname": "forged-host",
        "block_id": "forged-block",
        "workers": 4,
        "prefetch": 0,
        "pid": os.getpid(),
    }
    info.update(extra)
    return json.dumps(info).encode()


def _still_serving(loaded: Loaded) -> None:
    futures = [htex_apps.add(i, i) for i in range(10)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == [2 * i for i in range(10)]
    assert process_alive(loaded.interchange_pid)
    # (the status the interchange sends every heartbeat period may lag a little)
    wait_until(lambda: loaded.executor.connected_managers() == 1, 5, what="one manager")
    assert loaded.executor.bad_state_message is None


# ---------------------------------------------------------------------------
# (e) a manager of another version
# ---------------------------------------------------------------------------


def test_manager_of_another_version_is_refused(htex, zmq_context: zmq.Context) -> None:
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    sock = _dealer(zmq_context, _ports(loaded)[1], b"forged-manager")
    sock.send_multipart([protocol.REG, _registration(_token(loaded), FORGED)])
    kind, body = _reply(sock)
    assert kind == protocol.REFUSED
    reason = json.loads(body)
    assert FORGED in reason
    assert protocol.versions() in reason
    assert "forged-host" in reason
    # it was not registered: it gets no tasks and the block count is unchanged
    sock.send_multipart([protocol.HB, b""])
    _still_serving(loaded)
    assert "forged-block" not in loaded.executor.block_activity()
    assert not sock.poll(200), "the refused manager was sent something"


def test_real_manager_process_of_another_version_exits_refused(htex, tmp_path: Path) -> None:
    """A real ``plait_executor_htex.manager`` whose versions() differs (patched in that
    process) is refused: it exits with EXIT_REFUSED and says why on stderr, and the
    executor keeps working."""
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    program = (
        "import sys\n"
        "from plait_executor_htex import manager, protocol\n"
        f"protocol.versions = lambda: {FORGED!r}\n"
        "sys.exit(manager.main(sys.argv[1:]))\n"
    )
    args = [
        "--address",
        "127.0.0.1",
        "--port",
        str(_ports(loaded)[1]),
        "--token-file",
        loaded.executor._token_file,
        "--block-id",
        "forged",
        "--workers",
        "1",
        "--hb-period",
        "0.5",
        "--hb-threshold",
        str(HB_THRESHOLD),
    ]
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        timeout=TASK_TIMEOUT,
        check=False,
    )
    assert done.returncode == protocol.EXIT_REFUSED, done.stderr
    assert "refused" in done.stderr
    assert FORGED in done.stderr
    assert protocol.versions() in done.stderr
    _still_serving(loaded)


# ---------------------------------------------------------------------------
# (f) garbage and unauthenticated messages
# ---------------------------------------------------------------------------


def _raw_tcp_garbage(port: int) -> None:
    """Bytes that are not even ZMTP."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(os.urandom(4096))
        raw.sendall(b"\xff" * 64 + b"GET / HTTP/1.1\r\n\r\n")


def test_garbage_and_unauthenticated_messages_are_dropped(
    htex, zmq_context: zmq.Context, tmp_path: Path
) -> None:
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    client_port, worker_port = _ports(loaded)
    bomb_dir = tmp_path / "unpickled"
    bomb = pickle.dumps(Bomb(str(bomb_dir)))
    dropped_before = loaded.executor._status.get("dropped", 0)

    for port in (client_port, worker_port):
        _raw_tcp_garbage(port)

    # the executor's port: random frames, a HELLO with a wrong token, commands without one
    client = _dealer(zmq_context, client_port, b"intruder")
    to_client = [
        [os.urandom(100)],
        [os.urandom(10), os.urandom(1000)],
        [os.urandom(3), os.urandom(3), os.urandom(3)],
        [protocol.HELLO, b"\xff\xfe not json"],
        [protocol.HELLO, json.dumps({"token": "0" * 32}).encode()],
        [protocol.HELLO, json.dumps(["not", "an", "object"]).encode()],
        [protocol.TASKS, bomb],
        [protocol.TASKS, pickle.dumps([(0, 0)]), bomb],
        [protocol.CANCEL, bomb],
        [protocol.STOP, b""],
    ]
    for frames in to_client:
        client.send_multipart(frames)

    # the managers' port: random frames, bad registrations, commands from a stranger
    stranger = _dealer(zmq_context, worker_port, b"stranger")
    to_managers = [
        [os.urandom(100)],
        [os.urandom(10), os.urandom(1000)],
        [protocol.REG, b"\x80\x04 pickled?"],
        [protocol.REG, json.dumps([1, 2, 3]).encode()],
        [protocol.REG, json.dumps("just a string").encode()],
        [protocol.TASKS, bomb],
        [protocol.RESULTS, bomb],
        [protocol.RESULTS, pickle.dumps([(0, "ok")]), bomb],
        [protocol.DRAIN, b""],
        [protocol.HB, b""],
    ]
    for frames in to_managers:
        stranger.send_multipart(frames)
    # a registration with a wrong token is refused, and not registered
    impostor = _dealer(zmq_context, worker_port, b"impostor")
    impostor.send_multipart([protocol.REG, _registration("f" * 32, protocol.versions())])
    kind, _ = _reply(impostor)
    assert kind == protocol.REFUSED

    expected = len(to_client) + len(to_managers) + 1
    wait_until(
        lambda: loaded.executor._status.get("dropped", 0) - dropped_before >= expected,
        TASK_TIMEOUT,
        what=f"{expected} messages counted as dropped",
    )
    assert not bomb_dir.exists(), "the interchange unpickled bytes from an unauthenticated peer"
    # nothing was sent to the strangers, and the executor serves tasks as before
    assert not client.poll(200)
    assert not stranger.poll(0)
    _still_serving(loaded)
    assert not bomb_dir.exists()


def test_flood_of_garbage_does_not_stall_tasks(htex, zmq_context: zmq.Context) -> None:
    """Thousands of junk messages on both ports while tasks run: every task completes."""
    loaded = htex()
    assert htex_apps.add(0, 0).result(timeout=TASK_TIMEOUT) == 0
    socks = [_dealer(zmq_context, port) for port in _ports(loaded)]
    futures = [htex_apps.add(i, 1) for i in range(200)]
    began = time.monotonic()
    for n in range(2000):
        socks[n % 2].send_multipart([os.urandom(8), os.urandom(64), os.urandom(8)])
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == list(range(1, 201))
    assert time.monotonic() - began < TASK_TIMEOUT
    _still_serving(loaded)


@pytest.mark.parametrize(
    "fields",
    [{"hostname": None}, {"workers": "many"}],
    ids=["missing-hostname", "non-numeric-workers"],
)
def test_malformed_registration_with_the_token_is_dropped(
    htex, zmq_context: zmq.Context, fields: dict[str, object]
) -> None:
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    info = json.loads(_registration(_token(loaded), protocol.versions()))
    for key, value in fields.items():
        if value is None:
            del info[key]
        else:
            info[key] = value
    sock = _dealer(zmq_context, _ports(loaded)[1], b"half-manager")
    sock.send_multipart([protocol.REG, json.dumps(info).encode()])
    wait_until(
        lambda: (
            loaded.executor._status.get("dropped", 0) >= 1
            or not process_alive(loaded.interchange_pid)
        ),
        TASK_TIMEOUT,
        what="the registration to be dropped",
    )
    _still_serving(loaded)
