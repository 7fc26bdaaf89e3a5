"""Contract test suites for plait plugins (requires pytest).

A plugin package proves it implements plait's contracts by subclassing one of
these suites in its own tests and supplying a single fixture::

    import pytest
    from plait.testing import ProviderContract
    from plait_provider_toy import ToyProvider

    class TestToyProvider(ProviderContract):
        @pytest.fixture
        def provider(self, tmp_path):
            return ToyProvider(spool_dir=str(tmp_path))

pytest collects the subclass (its name starts with ``Test``) and runs every
inherited ``test_*`` method against the fixture's object. The suites are plain
classes; no pytest plugin needs to be enabled.

The suites, each with the fixture a subclass supplies:

* :class:`ExecutorContract`, ``executor`` (constructed, not started): submit,
  exceptions, concurrency, resource specifications, cancel, shutdown, and a
  real DataFlowKernel running apps on it.
* :class:`ProviderContract`, ``provider``: real shell jobs that complete, fail
  with an exit code, are cancelled; unknown job ids.
* :class:`LauncherContract`, ``launcher``: the command line it produces runs the
  command under bash.
* :class:`StagingContract`, ``staging`` (optionally ``staging_file`` and
  ``staging_output_file``): schemes, stage in, stage out, a real kernel.
* :class:`SerializerContract`, ``serializer`` (optionally ``function_cases``):
  round trips of data and functions, and the ``pack``/``unpack`` wire format.

:class:`ProcessWatch` and :func:`assert_no_survivors` show that every process a
test started (interchanges, managers, workers, launchers) is gone afterwards.
:class:`RecordingMonitor` keeps every event of a run (tasks, resource samples,
nodes, blocks) for tests of what an executor tells monitors, and :func:`burn` is an
app that uses a CPU for a while, importable by any executor's workers, for them to sample.

Every wait in the suites is a poll with a deadline (see :func:`wait_until`);
class attributes such as ``timeout`` can be raised by a subclass for slow
systems.
"""

from __future__ import annotations

import pytest

# Rewrite the suites' asserts so a failing contract shows the values involved.
pytest.register_assert_rewrite("plait.testing.contracts")

from plait.testing.contracts import (  # noqa: E402
    ContractTaskError,
    ExecutorContract,
    LauncherContract,
    ProviderContract,
    SerializerContract,
    StagingContract,
    process_alive,
    wait_until,
)
from plait.testing.monitor import RecordingMonitor, burn  # noqa: E402
from plait.testing.processes import ProcessWatch, assert_no_survivors  # noqa: E402

__all__ = [
    "ContractTaskError",
    "ExecutorContract",
    "LauncherContract",
    "ProcessWatch",
    "ProviderContract",
    "RecordingMonitor",
    "SerializerContract",
    "StagingContract",
    "assert_no_survivors",
    "burn",
    "process_alive",
    "wait_until",
]
