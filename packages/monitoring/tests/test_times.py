"""The recorder's time text for SQLite is exactly the text SQLAlchemy stores."""

from __future__ import annotations

import datetime
import math
import random
import time

import pytest

from plait_monitoring.db.times import SqliteTimeText

pytestmark = pytest.mark.timeout(60)


def _reference(value: float) -> str:
    return datetime.datetime.fromtimestamp(value).isoformat(" ", "microseconds")


def test_sqlite_time_text_is_what_fromtimestamp_makes() -> None:
    rng = random.Random(8)
    now = math.floor(time.time())
    values = [now + rng.random() * 1000 for _ in range(20_000)]
    values += [rng.uniform(0, 2e9) for _ in range(20_000)]
    # microseconds that round up into the next second, and halves that round to even
    edges = (0.0, 0.5e-6, 1.5e-6, 2.5e-6, 0.9999985, 0.9999994999, 0.9999995, 0.9999999)
    values += [now + k + edge for k in range(200) for edge in edges]
    text = SqliteTimeText()
    for value in sorted(values) + values:  # in order (the cache hits) and out of order
        assert text(value) == _reference(value), repr(value)
