"""Command-line options shared by ``caption`` and ``run``: per-role reply limits and context sizes, deadlines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from detective.llm.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _role_numbers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    """``ROLE=N`` pairs of a repeatable option as ``{role: N}``."""
    out: dict[str, int] = {}
    for value in values:
        role, sep, number = value.partition("=")
        if not sep or not role.strip() or not number.strip().isdigit() or int(number) < 1:
            raise click.BadParameter(f"expected ROLE=N with N ≥ 1 (e.g. planner=512), got {value!r}")
        out[role.strip().lower()] = int(number)
    return out


#: ``--max-tokens ROLE=N`` and ``--context-size ROLE=N``, shared by ``caption`` and ``run``.
max_tokens_option = click.option(
    "--max-tokens",
    "max_tokens",
    multiple=True,
    metavar="ROLE=N",
    callback=_role_numbers,
    help="Reply limit of a role's model, repeatable (e.g. --max-tokens planner=512 --max-tokens captioner=2048; "
    "default: OMNI_DETECTIVE_<ROLE>_MAX_TOKENS, else planner/observer/vision/judge 1024, captioner/direct 4096).",
)
context_size_option = click.option(
    "--context-size",
    "context_size",
    multiple=True,
    metavar="ROLE=N",
    callback=_role_numbers,
    help="Context window of a role's model in tokens, repeatable (default: OMNI_DETECTIVE_<ROLE>_CONTEXT_SIZE, "
    "else learnt from the model's first context_length_exceeded error); prompts are built to fit it.",
)


def with_role_limits(settings: Settings, max_tokens: dict[str, int], context_size: dict[str, int]) -> Settings:
    """``settings`` with the ``--max-tokens`` / ``--context-size`` values of each role applied."""
    for role in sorted(set(max_tokens) | set(context_size)):
        settings = settings.with_role(role, max_tokens=max_tokens.get(role), context_size=context_size.get(role))
    return settings


def _seconds_option(flag: str, help: str) -> Callable[[F], F]:
    """An option ``--flag SECS`` (a positive number of seconds, ``None`` when not given)."""
    dest = flag.removeprefix("--").replace("-", "_")
    seconds = click.FloatRange(min=0, min_open=True)
    return click.option(flag, dest, type=seconds, default=None, metavar="SECS", help=help)


#: ``--observer-timeout SECS``, shared by ``caption`` and ``run`` (DetectiveConfig.observer_timeout).
observer_timeout_option = _seconds_option(
    "--observer-timeout",
    "Seconds one observer may take on one query; past it the query fails and the clip goes on without it "
    "(default: OMNI_DETECTIVE_OBSERVER_TIMEOUT, else 300).",
)
#: ``--download-timeout SECS``, shared by ``caption`` and ``run`` (DetectiveConfig.download_timeout).
download_timeout_option = _seconds_option(
    "--download-timeout",
    "Seconds the download of a clip given by URL may take in all (default: OMNI_DETECTIVE_DOWNLOAD_TIMEOUT, else 600).",
)
