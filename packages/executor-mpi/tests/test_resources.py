"""Resource specifications: what MPI tasks may ask for, and the errors that name why not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from plait.errors import InvalidResourceSpecification
from plait_executor_mpi.resources import MPIRequest, parse_request

pytestmark = pytest.mark.timeout(10)


def parse(spec: dict[str, Any], block_nodes: int = 4) -> MPIRequest:
    return parse_request(spec, block_nodes, "test block", "mpi-test")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"num_nodes": 2, "ranks_per_node": 3}, MPIRequest(2, 6, 3)),
        ({"num_nodes": 2, "num_ranks": 6}, MPIRequest(2, 6, 3)),
        ({"num_nodes": 2, "num_ranks": 5}, MPIRequest(2, 5, 3)),  # the last node gets 2
        ({"num_nodes": 1, "num_ranks": 1}, MPIRequest(1, 1, 1)),
        ({"num_nodes": 3, "num_ranks": 6, "ranks_per_node": 2}, MPIRequest(3, 6, 2)),
        (
            {"num_nodes": 1, "num_ranks": 2, "launcher_options": "--bind-to core"},
            MPIRequest(1, 2, 2, "--bind-to core"),
        ),
        (
            {"num_nodes": 4, "ranks_per_node": 1, "priority": 5, "walltime": 3.0},
            MPIRequest(4, 4, 1),
        ),
    ],
)
def test_valid_requests(spec: dict[str, Any], expected: MPIRequest) -> None:
    before = copy.deepcopy(spec)
    assert parse(spec) == expected
    assert spec == before, "the caller's dict was modified"


@pytest.mark.parametrize(
    ("spec", "keys", "words"),
    [
        ({"num_node": 2, "num_ranks": 4}, {"num_node"}, ["'num_node'", "did you mean 'num_nodes'"]),
        ({"num_ranks": 4}, {"num_nodes"}, ["needs num_nodes", "{'num_ranks': 4}"]),
        ({"num_nodes": 2}, {"num_ranks", "ranks_per_node"}, ["num_nodes=2", "num_ranks or"]),
        (
            {"num_nodes": 2, "num_ranks": 5, "ranks_per_node": 2},
            {"num_nodes", "num_ranks", "ranks_per_node"},
            ["num_ranks=5", "num_nodes=2", "ranks_per_node=2", "= 4"],
        ),
        (
            {"num_nodes": 3, "num_ranks": 2},
            {"num_nodes", "num_ranks"},
            ["num_ranks=2", "num_nodes=3"],
        ),
        (
            {"num_nodes": 5, "num_ranks": 5},
            {"num_nodes"},
            ["num_nodes=5", "has 4 node(s)", "test block"],
        ),
        ({"num_nodes": 0, "num_ranks": 1}, {"num_nodes"}, ["integer >= 1", "0"]),
        ({"num_nodes": True, "num_ranks": 1}, {"num_nodes"}, ["integer >= 1"]),
        ({"num_nodes": "2", "num_ranks": 1}, {"num_nodes"}, ["'2'"]),
        ({"num_nodes": 1, "num_ranks": 1, "launcher_options": 3}, {"launcher_options"}, ["string"]),
    ],
)
def test_invalid_requests_name_the_keys_and_numbers(
    spec: dict[str, Any], keys: set[str], words: list[str]
) -> None:
    before = copy.deepcopy(spec)
    with pytest.raises(InvalidResourceSpecification) as info:
        parse(spec)
    assert info.value.invalid_keys == keys
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    assert "mpi-test" in str(info.value)
    assert spec == before, "the caller's dict was modified"
