"""Exceptions as the one line a user reads: tracebacks go to logs, the line names what is at fault.

Users read stderr for errors, so what libraries log there is cut down to warnings and errors about
the run (``quiet_logging``, set by the CLI and by every worker process).
"""

from __future__ import annotations

import logging
import os
import sys


def first_line(exc: BaseException) -> str:
    """The message's first line, or the exception's type when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def described(exc: BaseException) -> str:
    """``Type: first line`` (just ``Type`` without a message): for errors not raised as user messages."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class _LibraryNotices(logging.Filter):
    """Drops what libraries log that is not about this run: Beam warns on the root logger, at import,
    that optional GCP clients are missing ("apitools not found ..."). Errors always pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return not (record.name == "root" and f"{os.sep}apache_beam{os.sep}" in record.pathname)


def quiet_logging() -> None:
    """Library log lines reach stderr only as warnings and errors (Great Expectations' and Beam's INFO
    lines do not, even when Beam lowers the root logger to INFO), minus Beam's import notices. The
    handler goes on the root logger before any library logs, so ``logging.basicConfig`` (which Beam's
    first ``logging.warning`` calls) adds none of its own. Calling it again changes nothing."""
    root = logging.getLogger()
    if any(getattr(h, "_medmint", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(_LibraryNotices())
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    handler._medmint = True  # type: ignore[attr-defined]
    root.addHandler(handler)
