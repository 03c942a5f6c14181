"""Logging with structlog: readable console lines by default, JSON lines on request, secrets redacted.

Bind ``clip``, ``round`` and ``tool`` with ``structlog.contextvars.bind_contextvars`` and every line carries them.
The command line's ``--log-json FILE`` and ``--log-level`` go through :func:`setup`, once, before any command (a
plugin's included) runs.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import structlog

from detective.errors import SettingsError

_secrets: set[str] = set()

#: Level names ``--log-level`` accepts (any case).
LEVELS = ("debug", "info", "warning", "error")


@dataclass
class _Options:
    level: str | None = None  # given on the command line; wins over OMNI_DETECTIVE_LOG_LEVEL
    json_file: str | None = None
    stream: TextIO | None = None  # the open JSON log file


_options = _Options()


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
    level_name = (level or os.environ.get("OMNI_DETECTIVE_LOG_LEVEL") or "WARNING").strip().upper()
    if level_name.lower() not in LEVELS:
        where = "the log level" if level else "OMNI_DETECTIVE_LOG_LEVEL"
        raise SettingsError(f"{where} must be one of {', '.join(LEVELS)}, not {level_name.lower()!r}")
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


def setup(json_file: str | None = None, level: str | None = None) -> None:
    """Apply the command line's logging options: JSON lines appended to ``json_file``, else readable lines on
    standard error, at ``level`` (default: ``OMNI_DETECTIVE_LOG_LEVEL``, else ``INFO`` for a JSON file and
    ``WARNING`` on the console)."""
    _options.level = level
    _use_file(json_file)
    _apply()


def use_json_file(json_file: str) -> None:
    """Write JSON lines to ``json_file`` from now on, at the level already chosen (``run --log-json FILE``)."""
    _use_file(json_file)
    _apply()


def _use_file(json_file: str | None) -> None:
    if json_file == _options.json_file:
        return
    if _options.stream is not None:
        _options.stream.close()
    # line-buffered: a crash or kill loses no finished line; open until the process ends
    _options.stream = open(json_file, "a", encoding="utf-8", buffering=1) if json_file else None  # noqa: SIM115
    _options.json_file = json_file


def _apply() -> None:
    if _options.stream is not None:
        level = _options.level or os.environ.get("OMNI_DETECTIVE_LOG_LEVEL") or "INFO"
        configure(json=True, level=level, stream=_options.stream)
    else:
        configure(level=_options.level)


def reset() -> None:
    """Forget the command line's options and close the JSON log file; logs go to standard error again."""
    if _options.stream is not None:
        _options.stream.close()
    _options.level = _options.json_file = _options.stream = None
    configure()


atexit.register(lambda: _options.stream.close() if _options.stream is not None else None)


def configure_default() -> None:
    """Send warnings and errors to standard error unless the host application configured structlog itself.

    structlog's own default prints everything to standard output, which would mix logs into captions and JSON.
    """
    if not structlog.is_configured():
        try:
            configure()
        except ValueError as exc:  # a bad OMNI_DETECTIVE_LOG_LEVEL: said, not ignored (commands refuse it)
            configure(level="warning")
            structlog.get_logger("detective").warning("log level not used", error=str(exc))
