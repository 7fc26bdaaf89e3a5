"""File objects, and the DataFutures that an app's outputs= produce."""

from __future__ import annotations

import os
import pathlib
from concurrent.futures import Future

import pytest

from plait import DataFuture, File, python_app
from plait.app.futures import DataFuture as DataFutureAtParslPath
from plait.errors import DependencyError

TIMEOUT = 10


@python_app
def write(text, outputs=()):
    for f in outputs:
        with open(f, "w") as fh:
            fh.write(text)
    return len(outputs)


@python_app
def read(inputs=()):
    parts = []
    for f in inputs:
        with open(f) as fh:
            parts.append(fh.read())
    return "".join(parts)


@python_app
def fail_writing(outputs=()):
    raise OSError("disk full")


@python_app
def wait_then_write(gate, outputs=()):
    return write.__wrapped__(gate, outputs=outputs)


def test_plain_path_is_a_file_url():
    f = File("/data/in.csv")
    assert f.url == "/data/in.csv"
    assert f.scheme == "file"
    assert f.path == "/data/in.csv"
    assert f.filename == "in.csv"
    assert f.filepath == "/data/in.csv"


def test_relative_path():
    f = File("sub/dir/x.txt")
    assert f.scheme == "file"
    assert f.filepath == "sub/dir/x.txt"
    assert f.filename == "x.txt"


def test_file_url():
    f = File("file:///tmp/results/out.json")
    assert f.scheme == "file"
    assert f.netloc == ""
    assert f.path == "/tmp/results/out.json"
    assert f.filepath == "/tmp/results/out.json"
    assert f.filename == "out.json"


def test_remote_url_parts():
    f = File("https://example.org/data/archive.tar.gz")
    assert f.scheme == "https"
    assert f.netloc == "example.org"
    assert f.path == "/data/archive.tar.gz"
    assert f.filename == "archive.tar.gz"


def test_remote_file_has_no_filepath_until_staged():
    f = File("globus://endpoint/path/file.dat")
    with pytest.raises(ValueError, match="staged"):
        f.filepath  # noqa: B018
    f.local_path = "/scratch/file.dat"
    assert f.filepath == "/scratch/file.dat"
    assert os.fspath(f) == "/scratch/file.dat"


def test_fspath_and_str(tmp_path):
    path = str(tmp_path / "a.txt")
    f = File(path)
    assert os.fspath(f) == path
    assert str(f) == path
    assert isinstance(f, os.PathLike)
    with open(f, "w") as fh:  # usable wherever a path is
        fh.write("ok")
    assert pathlib.Path(f).read_text() == "ok"


def test_file_from_pathlike(tmp_path):
    f = File(tmp_path / "p.txt")
    assert f.url == str(tmp_path / "p.txt")
    assert f.filepath == str(tmp_path / "p.txt")


def test_equality_hash_and_cleancopy():
    a = File("/x/y")
    b = File("/x/y")
    assert a == b
    assert hash(a) == hash(b)
    assert a != File("/x/z")
    a.local_path = "/staged/y"
    assert a != b
    copy = a.cleancopy()
    assert copy == b
    assert copy.local_path is None


def test_repr_names_url():
    assert "'/x/y'" in repr(File("/x/y"))


def test_outputs_produce_data_futures(dfk, tmp_path):
    files = [File(str(tmp_path / "one.txt")), File(str(tmp_path / "two.txt"))]
    fut = write("hi", outputs=files)
    assert len(fut.outputs) == 2
    assert all(isinstance(d, DataFuture) for d in fut.outputs)
    assert fut.result(timeout=TIMEOUT) == 2
    for data, file in zip(fut.outputs, files, strict=True):
        produced = data.result(timeout=TIMEOUT)
        assert produced is file
        assert data.filepath == file.filepath
        assert data.filename == file.filepath
        assert data.tid == fut.tid
        assert data.parent is fut
        assert pathlib.Path(produced).read_text() == "hi"


def test_outputs_given_as_paths_become_files(dfk, tmp_path):
    path = str(tmp_path / "plain.txt")
    fut = write("x", outputs=[path])
    produced = fut.outputs[0].result(timeout=TIMEOUT)
    assert isinstance(produced, File)
    assert produced.filepath == path


def test_data_future_pending_until_task_finishes(dfk, tmp_path):
    gate: Future[str] = Future()
    fut = wait_then_write(gate, outputs=[File(str(tmp_path / "late.txt"))])
    data = fut.outputs[0]
    assert not data.done()
    assert "late.txt" in repr(data)
    gate.set_result("done")
    assert data.result(timeout=TIMEOUT).filepath == str(tmp_path / "late.txt")


def test_data_future_as_input_of_next_app(dfk, tmp_path):
    produced = write("chained", outputs=[File(str(tmp_path / "mid.txt"))]).outputs[0]
    assert read(inputs=[produced]).result(timeout=TIMEOUT) == "chained"


def test_fan_in_of_data_futures(dfk, tmp_path):
    parts = [
        write(str(i), outputs=[File(str(tmp_path / f"part{i}.txt"))]).outputs[0] for i in range(5)
    ]
    assert read(inputs=parts).result(timeout=TIMEOUT) == "01234"


def test_data_future_of_failed_task_fails(dfk, tmp_path):
    fut = fail_writing(outputs=[File(str(tmp_path / "nope.txt"))])
    data = fut.outputs[0]
    with pytest.raises(OSError, match="disk full"):
        data.result(timeout=TIMEOUT)
    assert isinstance(read(inputs=[data]).exception(timeout=TIMEOUT), DependencyError)


def test_data_future_at_parsl_path():
    assert DataFutureAtParslPath is DataFuture


def test_inputs_files_are_passed_to_the_body(dfk, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("content")
    assert read(inputs=[File(str(path))]).result(timeout=TIMEOUT) == "content"
