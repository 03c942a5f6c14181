"""One configuration: :class:`DetectiveConfig`, plain values and the single home of every default.

The Python API (``Detective(...)``), the command line, the batch and LangGraph Studio all build a
``DetectiveConfig``; it is the graph's ``context_schema``, so Studio serves its JSON schema and a run can be
configured from there. It holds names, never objects: the graph resolves tool, planner and captioner names
through the plugin manager when a run starts (:func:`resolve_toolbox`). Objects a library user hands to
``Detective(tools=[...])`` are registered for that run under their names.

Fields fall back to ``OMNI_DETECTIVE_<FIELD>`` environment variables in :meth:`DetectiveConfig.from_env`
(what the CLI and Studio use), as open_deep_research's ``Configuration`` does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detective.captioning import Captioner, CaptionerOptions
from detective.errors import SettingsError, expected_value
from detective.llm.settings import Settings
from detective.planning import Planner
from detective.tools import Tool, as_tool

ENV_PREFIX = "OMNI_DETECTIVE_"


class Budget(BaseModel):
    """Limits of one clip's investigation; ``None`` means unlimited. Checked before each round."""

    model_config = ConfigDict(extra="forbid")

    max_calls: int | None = Field(default=None, ge=0, description="Observer runs plus LLM calls.")
    max_tokens: int | None = Field(default=None, ge=0, description="LLM tokens over all models.")
    max_seconds: float | None = Field(default=None, ge=0, description="Wall time of the investigation.")


class DetectiveConfig(BaseModel):
    """How the Detective investigates a clip: names and numbers only, so it serialises and has a JSON schema."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["detective", "direct"] = Field(
        default="detective",
        description="detective: the agent loop over observers; direct: one call to an omni model, no observers.",
    )
    tools: list[str] | None = Field(
        default=None,
        description="Registered tool names; none means every registered tool (remote-model tools only when online).",
    )
    planner: str | None = Field(
        default=None,
        description="Planner name; none means hybrid when online (the local broad pass, then the LLM planner; "
        "llm is the paper's pure LLM planner), else rule.",
    )
    captioner: str | None = Field(
        default=None,
        description="Captioner name; none means llm when online, else template (direct in direct mode).",
    )
    max_rounds: int = Field(default=6, ge=1, description="Rounds of plan → query → observe at most (1 or more).")
    max_queries_per_round: int = Field(default=16, ge=1, description="Queries one round may run at most.")
    max_concurrency: int = Field(
        default=4,
        ge=1,
        description="Local observers (models on this machine's CPU) running at once within a clip; a round's "
        "remote-model queries all run at once, bounded only by the endpoint limits (shared by every clip).",
    )
    observer_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds one observer may take on one query; a synchronous tool still running then is abandoned.",
    )
    download_timeout: float = Field(
        default=600.0, gt=0, description="Seconds the download of a clip given by URL may take in all."
    )
    window_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest span one LLM observer request covers (30 s of audio: the captioner model's guidance); "
        "longer spans are asked window by window, cut between speech segments; local observers still see the "
        "whole clip. 0 turns windows off.",
    )
    budget: Budget = Field(default_factory=Budget, description="Limits on calls, tokens and seconds per clip.")
    captioner_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options for the captioner, e.g. strict_grounding, no_prompt; checked against the chosen "
        "captioner's options model when the run resolves it (resolve_toolbox).",
    )
    offline: bool = Field(default=False, description="Never call a remote model, even with a key set.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> DetectiveConfig:
        """Defaults, then ``OMNI_DETECTIVE_<FIELD>`` variables (lists comma-separated, dicts as JSON), then
        ``overrides`` whose value is not ``None``.

        :raises SettingsError: a value that cannot be used; the message names its variable (or argument).
        """
        env = dict(os.environ if env is None else env)
        data: dict[str, Any] = {}
        names: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            variable = ENV_PREFIX + name.upper()
            raw = env.get(variable)
            if not raw:
                continue
            names[name] = variable
            if name == "tools":
                data[name] = [t.strip() for t in raw.split(",") if t.strip()]
            elif name in {"budget", "captioner_options"}:
                data[name] = _json_object(variable, raw)
            elif info.annotation is bool or name == "offline":
                data[name] = _flag(variable, raw)
            else:
                data[name] = raw
        for key, value in overrides.items():
            if value is not None:
                data[key] = value
                names[key] = f"the argument {key}"
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsError("; ".join(_explain(e, names) for e in exc.errors())) from None

    def run_config(self) -> dict[str, Any]:
        """The LangGraph run config: every query of a round starts at once (local observers then wait for one of
        ``max_concurrency`` slots in the observe node), and a recursion limit as a mere safety net."""
        return {"max_concurrency": self.max_queries_per_round, "recursion_limit": 4 * self.max_rounds + 12}

    def settings(self, base: Settings | None = None) -> Settings:
        """``base`` (or the environment's settings) with this configuration's ``offline`` applied."""
        settings = base or Settings.from_env()
        if self.offline and not settings.offline:
            settings = settings.model_copy(update={"offline": True})
        return settings


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(variable: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise SettingsError(f"{variable} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def _json_object(variable: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{variable} must be a JSON object, not {raw!r} ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise SettingsError(f"{variable} must be a JSON object; it nests too deep to read") from None


def _explain(error: Any, names: dict[str, str]) -> str:
    """One validation error of :meth:`DetectiveConfig.from_env` as a sentence naming the variable."""
    loc = [str(part) for part in error["loc"]]
    where = names.get(loc[0], loc[0]) if loc else "the configuration"
    if len(loc) > 1:
        where += f" key {'.'.join(loc[1:])!r}"
    if error["type"] == "extra_forbidden":
        if len(loc) > 1 and loc[0] == "budget":
            return f"{names.get('budget', 'budget')} has no key {loc[-1]!r} (keys: {', '.join(Budget.model_fields)})"
        return f"unknown setting {loc[-1]!r}"
    expected = expected_value(error)
    return f"{where} must be {expected}, not {error['input']!r}"


@dataclass
class Toolbox:
    """The objects a run uses, resolved from a :class:`DetectiveConfig`'s names."""

    tools: dict[str, Tool] = field(default_factory=dict)
    planner: Planner | None = None
    captioner: Captioner | None = None
    #: ``DetectiveConfig.captioner_options`` validated against the captioner's options model (a dict without one).
    captioner_options: CaptionerOptions | dict[str, Any] = field(default_factory=dict)


def object_name(obj: Any) -> str:
    """The name an object is registered under for a run: its ``name`` attribute, else its class name."""
    return getattr(obj, "name", "") or type(obj).__name__


def resolve_toolbox(
    config: DetectiveConfig,
    settings: Settings,
    objects: dict[str, dict[str, Any]] | None = None,
) -> Toolbox:
    """Resolve the configuration's names to objects: ``objects`` registered for the run first, then plugins.

    :param objects: ``{"tools": {name: obj}, "planners": {...}, "captioners": {...}}`` handed to the run.
    :raises KeyError: an unknown name (the message lists what is registered).
    """
    from detective.plugins import get_registry

    objects = objects or {}
    registry = get_registry()
    given_tools = objects.get("tools", {})
    if config.tools is None:
        candidates = [r.value for r in registry.tools.values()] + list(given_tools.values())
        chosen = [t for t in candidates if not t.needs_api or settings.online(t.role)]
    else:
        chosen = [as_tool(given_tools[n]) if n in given_tools else registry.tool(n) for n in config.tools]
    tools: dict[str, Tool] = {}
    for tool in chosen:
        if tool.name in tools and tools[tool.name] is not tool:
            raise ValueError(f"two tools are named {tool.name!r}; tool names must be unique")
        tools[tool.name] = tool

    def pick(kind: str, name: str | None, default: str) -> Any:
        name = name or default
        given = objects.get(kind, {})
        return given[name] if name in given else registry.make(kind, name)

    planner = pick("planners", config.planner, "hybrid" if settings.online("planner") else "rule")
    if config.mode == "direct":
        default_captioner = "direct"
    elif settings.online("captioner") and "llm" in registry.captioners:
        default_captioner = "llm"
    else:
        default_captioner = "template" if "template" in registry.captioners else "evidence"
    captioner = pick("captioners", config.captioner, default_captioner)
    name = config.captioner or default_captioner
    entry = None if name in objects.get("captioners", {}) else registry.captioners.get(name)
    model = getattr(captioner, "options_model", None) or (entry.options if entry else None)
    others = [r.options for r in registry.captioners.values() if r is not entry]
    options = captioner_options(captioner, config.captioner_options, model, others)
    return Toolbox(tools=tools, planner=planner, captioner=captioner, captioner_options=options)


def captioner_options(
    captioner: Any,
    options: dict[str, Any],
    model: type[CaptionerOptions] | None,
    others: Iterable[type[CaptionerOptions] | None] = (),
) -> CaptionerOptions | dict[str, Any]:
    """``options`` validated against ``model``, the captioner's options model (a plain dict without one).

    Options the captioner does not have are left out when another registered captioner has them (``others``: their
    options models) or takes untyped options (``None``), so one configuration serves an online run (the ``llm``
    captioner) and an offline one (``template``) alike; an option no captioner has is an error.

    :raises SettingsError: an unknown option or a value the captioner cannot use (the message names the option).
    """
    if model is None:
        return dict(options)
    name = object_name(captioner)
    own = {key: value for key, value in options.items() if key in model.model_fields}
    others = list(others)
    if any(m is None for m in others):
        unknown: list[str] = []
    else:
        known = {f for m in others if m is not None for f in m.model_fields}
        unknown = sorted(set(options) - set(own) - known)
    listed = ", ".join(sorted(model.model_fields)) or "none"
    if unknown:
        raise SettingsError(
            f"captioner_options: no captioner has an option {unknown[0]!r} (the {name} captioner's options: {listed})"
        )
    try:
        return model.model_validate(own)
    except ValidationError as exc:
        raise SettingsError(
            "; ".join(
                f"captioner_options: the {name} captioner's option {'.'.join(map(str, e['loc']))!r} must be "
                f"{expected_value(e)}, not {e['input']!r}"
                for e in exc.errors()
            )
        ) from None
