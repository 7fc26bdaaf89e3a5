"""App errors at their Parsl path (``parsl.app.errors``)."""

from plait.errors import (
    AppBadFormatting,
    AppException,
    AppTimeout,
    BadStdStreamFile,
    BashAppNoReturn,
    BashExitFailure,
    MissingOutputs,
)

__all__ = [
    "AppBadFormatting",
    "AppException",
    "AppTimeout",
    "BadStdStreamFile",
    "BashAppNoReturn",
    "BashExitFailure",
    "MissingOutputs",
]
