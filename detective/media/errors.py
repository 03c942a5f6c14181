"""MediaError: a clip cannot be read, the message naming the clip's source and the cause."""

from __future__ import annotations

import os


class MediaError(ValueError):
    """A clip cannot be read: the message starts with the clip's source and states the cause.

    A ``ValueError`` (the input is unusable), which is also what lets LangGraph's server pass its message on to
    Studio: it hides the messages of exception types it does not know as user errors. ``retryable`` is True only
    where another attempt can help (a remote store that did not answer in time or failed to serve the bytes); a
    missing, empty or corrupt clip is permanent.
    """

    retryable = False


def _transient(error: MediaError) -> MediaError:
    error.retryable = True
    return error


def _fail(source: str | os.PathLike[str], cause: str) -> MediaError:
    return MediaError(f"{source}: {cause}")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0]
