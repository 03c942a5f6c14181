"""Command-line options shared by ``caption`` and ``run``: per-role reply limits and context sizes, deadlines, and
:func:`detective_config`, the one way both build a :class:`~detective.agent.config.DetectiveConfig` from them.

Defaults named in the help come from :class:`~detective.agent.config.DetectiveConfig`'s fields (their one home)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from detective.agent.config import DetectiveConfig
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


def config_default(name: str) -> str:
    """The default of a :class:`DetectiveConfig` field as the help prints it (``600``, not ``600.0``)."""
    return f"{DetectiveConfig.model_fields[name].default:g}"


def detective_config(
    *,
    tools: str | None = None,
    strict_grounding: bool = False,
    no_prompt: bool = False,
    **fields: Any,
) -> DetectiveConfig:
    """The run's configuration from command-line options: defaults, then ``OMNI_DETECTIVE_<FIELD>`` variables,
    then the options given (``None`` means not given).

    :param tools: ``--tools``, a comma-separated list of tool names.
    :param strict_grounding: ``--strict-grounding``, a captioner option.
    :param no_prompt: ``--no-prompt``, a captioner option (direct mode).
    :param fields: other :class:`DetectiveConfig` fields (``mode``, ``planner``, ``max_rounds``, ``offline`` …).
    :raises SettingsError: a value that cannot be used (the message names its variable or option).
    """
    names = [t.strip() for t in tools.split(",") if t.strip()] if tools else None
    options = {key: True for key, on in (("no_prompt", no_prompt), ("strict_grounding", strict_grounding)) if on}
    return DetectiveConfig.from_env(tools=names, captioner_options=options or None, **fields)


def _seconds_option(flag: str, help: str) -> Callable[[F], F]:
    """An option ``--flag SECS`` (a positive number of seconds, ``None`` when not given)."""
    dest = flag.removeprefix("--").replace("-", "_")
    seconds = click.FloatRange(min=0, min_open=True)
    return click.option(flag, dest, type=seconds, default=None, metavar="SECS", help=help)


#: ``--observer-timeout SECS``, shared by ``caption`` and ``run`` (DetectiveConfig.observer_timeout).
observer_timeout_option = _seconds_option(
    "--observer-timeout",
    "Seconds one observer may take on one query; past it the query fails and the clip goes on without it "
    f"(default: OMNI_DETECTIVE_OBSERVER_TIMEOUT, else {config_default('observer_timeout')}).",
)
#: ``--download-timeout SECS``, shared by ``caption`` and ``run`` (DetectiveConfig.download_timeout).
download_timeout_option = _seconds_option(
    "--download-timeout",
    "Seconds the download of a clip given by URL may take in all (default: OMNI_DETECTIVE_DOWNLOAD_TIMEOUT, "
    f"else {config_default('download_timeout')}).",
)
