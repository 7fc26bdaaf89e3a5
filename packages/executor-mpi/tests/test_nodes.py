"""A block's nodes: Slurm hostlists, node files, and the pool tasks take nodes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait_executor_mpi.nodes import NodePool, block_nodes, expand_hostlist

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("expression", "hosts"),
    [
        ("node1", ["node1"]),
        ("node[1-2]", ["node1", "node2"]),
        ("node[1-2],gpu[07-09]x", ["node1", "node2", "gpu07x", "gpu08x", "gpu09x"]),
        ("a[1,3-4],b", ["a1", "a3", "a4", "b"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("nid[008-010]", ["nid008", "nid009", "nid010"]),
    ],
)
def test_expand_hostlist(expression: str, hosts: list[str]) -> None:
    assert expand_hostlist(expression) == hosts


@pytest.mark.parametrize("expression", ["node[1-2", "node1-2]", "node[a-b]"])
def test_malformed_hostlists_are_errors(expression: str) -> None:
    with pytest.raises(ValueError, match=r"hostlist|range"):
        expand_hostlist(expression)


def test_node_sources_in_order_of_precedence(tmp_path: Path) -> None:
    nodefile = tmp_path / "nodes"
    nodefile.write_text("alpha\n\n# a comment\nbeta\nalpha\n")
    pbs = tmp_path / "pbs"
    pbs.write_text("p1\np1\np2\n")
    env = {
        "PLAIT_MPI_NODEFILE": str(nodefile),
        "SLURM_JOB_NODELIST": "node[1-2]",
        "PBS_NODEFILE": str(pbs),
    }
    assert block_nodes(env, "me")[0] == ["alpha", "beta"]
    del env["PLAIT_MPI_NODEFILE"]
    nodes, source = block_nodes(env, "me")
    assert nodes == ["node1", "node2"] and "SLURM_JOB_NODELIST=node[1-2]" in source
    assert block_nodes({"SLURM_NODELIST": "n3"}, "me")[0] == ["n3"]
    del env["SLURM_JOB_NODELIST"]
    assert block_nodes(env, "me")[0] == ["p1", "p2"]
    nodes, source = block_nodes({}, "me")
    assert nodes == ["me"] and "this machine" in source
    nodefile.write_text("\n")
    with pytest.raises(ValueError, match="names no node"):
        block_nodes({"PLAIT_MPI_NODEFILE": str(nodefile)}, "me")


def test_pool_hands_out_disjoint_nodes_and_takes_them_back_in_order() -> None:
    pool = NodePool(["n1", "n2", "n3", "n4"])
    first = pool.take(2)
    second = pool.take(1)
    assert first == ["n1", "n2"] and second == ["n3"]
    assert pool.take(2) is None, "only one node is free"
    assert pool.free == 1 and pool.total == 4
    pool.give_back(first)
    assert pool.free == 3
    assert pool.take(3) == ["n1", "n2", "n4"]
    assert pool.take(1) is None
