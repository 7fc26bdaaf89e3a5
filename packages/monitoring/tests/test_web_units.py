"""The web UI's parts without a browser: escaping, root causes, DAG layout, access rules."""

from __future__ import annotations

import itertools

import pytest

from plait_monitoring.web.auth import Access, is_loopback
from plait_monitoring.web.dag import edges, layered
from plait_monitoring.web.failures import root_causes
from plait_monitoring.web.html import el, join, raw
from plait_monitoring.web.queries import Task, parse_depends

pytestmark = pytest.mark.timeout(30)


def test_text_and_attributes_are_escaped_but_markup_is_not() -> None:
    page = el("p", "<script>alert(1)</script>", el("b", "&"), title='"quoted" <x>', hidden=True)
    assert page == (
        '<p title="&quot;quoted&quot; &lt;x&gt;" hidden>&lt;script&gt;alert(1)&lt;/script&gt;'
        "<b>&amp;</b></p>"
    )
    assert el("td", None, 3, ["a", raw("<br>")]) == "<td>3a<br></td>"
    assert el("a", "x", href=None, class_="c", data_src="/u?a=1&b=2") == (
        '<a class="c" data-src="/u?a=1&amp;b=2">x</a>'
    )
    assert join(["<", el("i", ">")]) == "&lt;<i>&gt;</i>"
    assert el("meta", charset="utf-8") == '<meta charset="utf-8">'


def failed(task_id: int, state: str, *depends: int) -> Task:
    return Task(task_id, "app", state, depends, None, None, 0, None, *([None] * 7))


def test_root_causes_follow_dep_fail_chains_to_the_tasks_that_failed() -> None:
    tasks = {
        1: failed(1, "failed"),
        2: failed(2, "failed"),
        3: failed(3, "dep_fail", 1, 99),  # 99 succeeded: not a cause
        4: failed(4, "dep_fail", 3, 2),
        5: failed(5, "dep_fail", 4),
        6: failed(6, "cancelled"),
        7: failed(7, "dep_fail", 6, 5),
        8: failed(8, "dep_fail", 42),  # its failed dependency was not recorded
    }
    roots = root_causes(tasks)
    assert roots[1] == (1,)
    assert roots[3] == (1,)
    assert roots[4] == (1, 2)
    assert roots[5] == (1, 2)
    assert roots[7] == (1, 2, 6)
    assert roots[8] == ()


def test_root_causes_survive_long_chains_and_bad_data() -> None:
    chain = {0: failed(0, "failed")}
    for i in range(1, 20_000):  # far deeper than Python's recursion limit
        chain[i] = failed(i, "dep_fail", i - 1)
    assert root_causes(chain)[19_999] == (0,)
    loop = {1: failed(1, "dep_fail", 2), 2: failed(2, "dep_fail", 1)}
    assert root_causes(loop) == {1: (), 2: ()}


def test_dag_layout_puts_dependencies_left_and_keeps_chains_straight() -> None:
    graph = [(0, ()), (1, (0,)), (2, (1,)), (3, ()), (4, (2, 3)), (5, (4, 77))]
    placed = layered(graph)
    assert [placed[i].layer for i in range(6)] == [0, 1, 2, 0, 3, 4]
    assert placed[0].row == placed[1].row == placed[2].row
    assert placed[3].row != placed[0].row
    assert placed[4].row == (placed[2].row + placed[3].row) / 2  # a join between its inputs
    assert edges(graph) == [(0, 1), (1, 2), (2, 4), (3, 4), (4, 5)]


def test_dag_layout_keeps_a_wide_layer_apart() -> None:
    graph = [(0, ())] + [(i, (0,)) for i in range(1, 51)]
    rows = sorted(p.row for task_id, p in layered(graph).items() if task_id)
    assert all(b - a >= 1 for a, b in itertools.pairwise(rows))


def test_task_depends_are_parsed_as_parsl_writes_them() -> None:
    assert parse_depends(None) == ()
    assert parse_depends("") == ()
    assert parse_depends("1,22, 3") == (1, 22, 3)


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")


def test_access_rules() -> None:
    local = Access.for_bind("127.0.0.1", 8000, None)
    assert local.token is None
    assert local.check("/", {}, {"host": "127.0.0.1:8000"}).status == 200
    assert local.check("/", {}, {"host": "[::1]:8000"}).status == 200
    assert local.check("/", {}, {"host": "evil.example"}).status == 403
    assert local.check("/", {}, {}).status == 403
    remote = Access.for_bind("0.0.0.0", 8000, None)
    token = remote.token
    assert token is not None
    assert remote.check("/", {}, {"host": "x"}).status == 401
    entry = remote.check("/workflow/r", {"token": token, "fpage": "2"}, {})
    assert (entry.status, entry.location) == (303, "/workflow/r?fpage=2")
    assert entry.set_cookie and entry.set_cookie.startswith(f"plait_monitoring_8000={token};")
    cookie = {"cookie": f"other=1; plait_monitoring_8000={token}"}
    assert remote.check("/", {}, cookie).status == 200
    assert remote.check("/", {}, {"cookie": "plait_monitoring_8000=nope"}).status == 401
    assert remote.check("/", {}, {"cookie": "\x00garbage;;="}).status == 401
    assert remote.check("/static/plait-web.css", {}, {}).status == 200
    assert Access.for_bind("0.0.0.0", 8000, None).token != token  # a new one per server
