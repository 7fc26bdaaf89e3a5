"""Every plait error survives pickling (errors raised on workers travel back pickled)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from plait import errors

SAMPLES = [
    errors.ConfigError("exit_mode", "sometimes", ["wait", "cleanup", "skip"], "pick one"),
    errors.BashExitFailure("compile", 2, "/tmp/o", "/tmp/e"),
    errors.MissingOutputs("app x", ["a.txt"]),
    errors.ExecutorError("htex", "interchange died"),
    errors.InvalidResourceSpecification({"cores"}, "no cores here"),
    errors.UnsupportedFeatureError("walltime", "threads", "htex"),
    errors.SubmitException("block-0", "sbatch: invalid partition", stderr="bad partition"),
    errors.SerializationError("argument 0 of app f, type generator", "cannot pickle"),
    errors.DeserializationError("unknown serializer"),
    errors.DependencyError([(ValueError("bad"), "task 1 (load)")], 2),
    errors.JoinError([(KeyError("k"), "task 3 (get)")], 4),
    errors.AppTimeout("task 1 exceeded its walltime"),
    errors.BadStdStreamFile("stdout=5 is not usable"),
    errors.NoDataFlowKernelError(),
]


def test_every_error_class_has_a_sample() -> None:
    classes = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PlaitError) and cls.__module__ == errors.__name__
    }
    sampled = {type(s) for s in SAMPLES}
    # base classes need no sample of their own
    bases = {
        errors.PlaitError,
        errors.AppException,
        errors.DataFlowException,
        errors.PropagatedException,
        errors.ExecutionProviderException,
    }
    missing = {c.__name__ for c in classes - sampled - bases}
    assert missing <= {
        "OptionalModuleMissing",
        "InternalConsistencyError",
        "BashAppNoReturn",
        "AppBadFormatting",
        "BadCheckpoint",
        "BadStateException",
        "ScalingFailed",
        "TooManyJobFailuresError",
        "ScaleOutFailed",
        "BadLauncher",
    }


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_keeps_type_message_and_fields(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    for name, value in vars(error).items():
        if name != "_init_args" and not isinstance(value, BaseException | list):
            assert getattr(copy, name) == value
