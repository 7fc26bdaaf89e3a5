"""CurveZMQ on the manager port: keys per run, 0600, and managers without them refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import plait
from plait import Config
from plait.launchers import SimpleLauncher
from plait.providers import LocalProvider
from plait_executor_htex import HighThroughputExecutor
from plait_executor_htex.curve import needs_encryption


def test_encryption_is_on_for_non_loopback_addresses() -> None:
    assert not needs_encryption("127.0.0.1", False)
    assert not needs_encryption("::1", False)
    assert needs_encryption("127.0.0.1", True)
    assert needs_encryption("10.1.2.3", False)
    assert needs_encryption("node01.cluster", False)


def test_encrypted_run_works_and_keyless_manager_is_refused(tmp_path: Path) -> None:
    executor = HighThroughputExecutor(
        max_workers_per_node=1,
        encrypted=True,
        heartbeat_period=0.5,
        heartbeat_threshold=3,
        provider=LocalProvider(launcher=SimpleLauncher()),
    )
    with plait.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"))):
        from plait.perf import _inc

        assert _inc(41).result(timeout=60) == 42
        certs = Path(executor.cert_dir or "")
        assert certs.is_dir() and (certs.stat().st_mode & 0o777) == 0o700
        for key in ("client.key_secret", "server.key_secret"):
            assert ((certs / key).stat().st_mode & 0o777) == 0o600
        assert executor.cert_dir and "--cert-dir" in executor.launch_command("9")
        assert executor._ports is not None
        keyless = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plait_executor_htex.manager",
                "--address",
                "127.0.0.1",
                "--port",
                str(executor._ports[1]),
                "--token-file",
                executor._token_file,
                "--hb-threshold",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )
        try:
            _, stderr = keyless.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            keyless.send_signal(signal.SIGABRT)  # faulthandler prints where it is stuck
            _, stderr = keyless.communicate(timeout=10)
            pytest.fail(f"the refused manager did not exit:\n{stderr}")
        assert keyless.returncode != 0 and "--cert-dir" in stderr
        assert executor.connected_managers() == 1
        assert _inc(1).result(timeout=60) == 2
