"""Exceptions as the one line a user reads: tracebacks go to logs, the line names what is at fault."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The message's first line, or the exception's type when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def described(exc: BaseException) -> str:
    """``Type: first line`` (just ``Type`` without a message): for errors not raised as user messages."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
