"""Logging with structlog: readable console lines by default, JSON lines on request, secrets redacted.

Bind ``clip``, ``round`` and ``tool`` with ``structlog.contextvars.bind_contextvars`` and every line carries them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Remember a secret (an API key) so it is masked wherever it would be printed."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and anything shaped like a bearer token masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _redact_processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    """A logger on ``sys.stderr`` as it is when a line is logged: a progress bar swaps in a proxy printing above it."""
    return structlog.PrintLogger(sys.stderr)


def configure(json: bool = False, level: str | None = None, stream: TextIO | None = None) -> None:
    """Configure structlog: console renderer, or JSON lines with ``json=True``. Logs go to standard error."""
    level_name = (level or os.environ.get("OMNI_DETECTIVE_LOG_LEVEL") or "WARNING").upper()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(stream) if stream is not None else _stderr_logger,
        cache_logger_on_first_use=False,
    )


def configure_default() -> None:
    """Send warnings and errors to standard error unless the host application configured structlog itself.

    structlog's own default prints everything to standard output, which would mix logs into captions and JSON.
    """
    if not structlog.is_configured():
        configure()
