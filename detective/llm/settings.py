"""Settings: endpoints and models per role, from arguments, the environment, a ``.env`` file and TOML files.

Roles are free names; the built-in ones are ``planner``, ``observer`` (the audio LLM), ``vision``, ``captioner``
and ``judge``. For a role ``R`` the environment variables ``OMNI_DETECTIVE_R_MODEL``, ``OMNI_DETECTIVE_R_BASE_URL``
and ``OMNI_DETECTIVE_R_API_KEY`` override the shared ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``;
``OMNI_DETECTIVE_R_MAX_TOKENS`` bounds the role's replies and ``OMNI_DETECTIVE_R_CONTEXT_SIZE`` states its model's
context window in tokens (learnt from a ``context_length_exceeded`` error when not stated). A TOML file says the
same with a table per role (``[planner] model = "..."``). :mod:`detective.llm.settings_sources` reads and merges them
(precedence: arguments > environment > ``.env`` > ``./omni-detective.toml`` > the user's config file > defaults).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr

from detective.errors import SettingsError

DEFAULT_MODELS: dict[str, str] = {
    "planner": "gpt-4.1-2025-04-14",
    "observer": "qwen3-omni-flash",
    "vision": "qwen3-omni-flash",
    "captioner": "gpt-4.1-2025-04-14",
    "judge": "gpt-4.1-2025-04-14",
    "direct": "qwen3-omni-flash",
}
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: The defaults on OpenAI's own endpoint (the default one), which serves no Qwen model: the audio observer takes
#: OpenAI's audio-input chat model, the vision observer the planner's model (it reads images). Direct mode has no
#: OpenAI model that takes a clip's audio and frames together: :meth:`Settings.unserved_default` says so at start.
OPENAI_DEFAULT_MODELS: dict[str, str] = {
    "observer": "gpt-4o-audio-preview",
    "vision": "gpt-4.1-2025-04-14",
}
#: Reply limit per role (``max_tokens``), so a weak model that loops stops instead of filling its context. A
#: planner turn is a few tool calls; an observer answer a paragraph; a caption and a direct-mode reply are long.
DEFAULT_MAX_TOKENS: dict[str, int] = {
    "planner": 1024,
    "observer": 1024,
    "vision": 1024,
    "captioner": 4096,
    "judge": 1024,
    "direct": 4096,
}
#: Reply limit of a role without a default of its own (a plugin's role).
FALLBACK_MAX_TOKENS = 2048


def int_variable(name: str, env: Mapping[str, str] | None = None, *, least: int = 1) -> int | None:
    """The whole number variable ``name`` holds (``None`` when unset or empty).

    :raises SettingsError: it holds anything else, or less than ``least``; the message names the variable.
    """
    import os

    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < least:
        raise SettingsError(f"{name} must be a whole number of at least {least}, not {raw!r}")
    return int(raw)


#: Variable endings that hold a count of threads or workers (a tool's own, e.g. ``OMNI_DETECTIVE_OCR_THREADS``).
COUNT_SUFFIXES = ("_THREADS", "_WORKERS")


def check_environment(env: Mapping[str, str] | None = None) -> None:
    """Refuse nonsense in the ``OMNI_DETECTIVE_*`` variables read outside the settings models, before a command
    runs: thread and worker counts (``OMNI_DETECTIVE_MODEL_THREADS``, ``_ASR_THREADS``, ``_ASR_WORKERS``,
    ``_OCR_THREADS`` and any tool's ``*_THREADS``), ``_MALLOC_ARENAS``, ``_LOG_LEVEL`` and ``_HTTP_CLIENT``.

    :raises SettingsError: naming the first variable whose value cannot be used.
    """
    import os

    from detective.logs import LEVELS

    env = os.environ if env is None else env
    for name in sorted(env):
        if name.startswith("OMNI_DETECTIVE_") and name.endswith(COUNT_SUFFIXES):
            int_variable(name, env)
    int_variable("OMNI_DETECTIVE_MALLOC_ARENAS", env, least=0)
    level = env.get("OMNI_DETECTIVE_LOG_LEVEL", "").strip()
    if level and level.lower() not in LEVELS:
        raise SettingsError(f"OMNI_DETECTIVE_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    client = env.get("OMNI_DETECTIVE_HTTP_CLIENT", "").strip()
    if client and client.lower() not in ("httpx", "aiohttp"):
        raise SettingsError(f"OMNI_DETECTIVE_HTTP_CLIENT must be httpx or aiohttp, not {client!r}")


def url_host(url: str) -> str:
    """The host (and port) of ``url``, without a user or password it may carry."""
    return urlparse(url).netloc.rpartition("@")[2] or url


class Endpoint(BaseModel):
    """A resolved OpenAI-compatible endpoint for one role."""

    role: str
    model: str
    base_url: str
    api_key: SecretStr | None = None
    timeout: float = Field(default=120.0, description="Seconds before one request is abandoned.")
    max_attempts: int = Field(default=4, ge=1, description="Attempts per call, the first one included.")
    backoff: float = Field(default=0.5, ge=0.0, description="First retry delay in seconds; doubles each time.")
    max_backoff: float = Field(default=30.0, ge=0.0, description="Cap on one retry delay, Retry-After included.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Reply limit sent with every call that sets none itself (None: no limit)."
    )
    context_size: int | None = Field(
        default=None, ge=1, description="The model's context window in tokens, when configured (None: unknown)."
    )

    @property
    def host(self) -> str:
        """The endpoint's host (and port), safe to record: never the key, nor a user or password in the URL."""
        return url_host(self.base_url)

    @property
    def available(self) -> bool:
        """True when a key is set, so calls can be made."""
        return self.api_key is not None and bool(self.api_key.get_secret_value())


class RoleSettings(BaseModel):
    """Overrides for one role; ``None`` falls back to the environment, then to the shared settings."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(
        default=None, gt=0, description="Request timeout in seconds (a role's TOML table; no variable)."
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="Attempts per call (a role's TOML table; no variable)."
    )
    max_tokens: int | None = Field(default=None, ge=1, description="Reply limit (OMNI_DETECTIVE_<ROLE>_MAX_TOKENS).")
    context_size: int | None = Field(
        default=None, ge=1, description="Context window in tokens (OMNI_DETECTIVE_<ROLE>_CONTEXT_SIZE)."
    )


class Settings(BaseModel):
    """Everything configurable about LLM access. Build with :meth:`from_env` to read the environment."""

    api_key: SecretStr | None = Field(default=None, description="Shared key (OPENAI_API_KEY).")
    base_url: str | None = Field(default=None, description="Shared endpoint (OPENAI_BASE_URL).")
    timeout: float = Field(default=120.0, gt=0, description="Request timeout in seconds (OMNI_DETECTIVE_TIMEOUT).")
    max_attempts: int = Field(default=4, ge=1, description="Attempts per call (OMNI_DETECTIVE_MAX_ATTEMPTS).")
    backoff: float = Field(default=0.5, ge=0, description="First retry delay in seconds (OMNI_DETECTIVE_BACKOFF).")
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    offline: bool = Field(default=False, description="Never call a remote model, even with a key set.")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        dotenv: str | Path | None = None,
        config_files: Sequence[str | Path] | None = None,
        **overrides: object,
    ) -> Settings:
        """Settings from ``overrides``, then variables, then a ``.env`` file, then TOML files, then defaults.

        Without ``env``: the process environment, ``./.env`` and the config files of
        :func:`detective.llm.settings_sources.config_paths`. With an ``env`` mapping, that mapping alone, plus the
        ``dotenv`` and ``config_files`` given (so a test reads nothing it did not pass).

        :raises SettingsError: (a ``ValueError``) a value that cannot be read; the
            message names the variable, or the file and key, never a key's value.
        """
        from detective.llm.settings_sources import load

        return load(env, dotenv=dotenv, config_files=config_files, overrides=overrides).settings

    def endpoint(self, role: str) -> Endpoint:
        """The endpoint for ``role``: role overrides, then the shared settings, then defaults."""
        values = {name: value for name, (value, _) in self.resolve(role).items()}
        if self.offline:
            values["api_key"] = None
        return Endpoint(role=role, **values)

    def resolve(self, role: str) -> dict[str, tuple[Any, tuple[str, ...] | None]]:
        """Each :class:`Endpoint` field of ``role`` as ``(value, path)``: where in these settings the value was
        found (``("roles", "observer", "base_url")``, ``("timeout",)``), ``None`` for a default.

        ``vision`` falls back to ``observer`` for its endpoint, key and reply limit, and for its context size when
        both use the same model.
        """
        roles = {r: self.roles.get(r) or RoleSettings() for r in (role, "observer")}
        chains = {name: [("roles", role, name)] for name in _ENDPOINT_FIELDS}
        if role == "vision":
            same_model = not roles[role].model or roles[role].model == roles["observer"].model
            for name in ("base_url", "api_key", "max_tokens") + (("context_size",) if same_model else ()):
                chains[name].append(("roles", "observer", name))
        for name in ("base_url", "api_key", "timeout", "max_attempts", "backoff"):
            chains[name].append((name,))
        chains["backoff"] = [("backoff",)]  # no per-role backoff
        defaults: dict[str, Any] = {
            "model": DEFAULT_MODELS.get(role) or DEFAULT_MODELS["planner"],
            "base_url": DEFAULT_BASE_URL,
            "max_tokens": DEFAULT_MAX_TOKENS.get(role, FALLBACK_MAX_TOKENS),
        }
        out: dict[str, tuple[Any, tuple[str, ...] | None]] = {}
        for name, chain in chains.items():
            for path in chain:
                value = getattr(roles[path[1]], name) if path[0] == "roles" else getattr(self, name)
                if value:
                    out[name] = (value, path)
                    break
            else:
                out[name] = (defaults.get(name, Endpoint.model_fields[name].default), None)
        if out["model"][1] is None and _is_openai(out["base_url"][0]) and role in OPENAI_DEFAULT_MODELS:
            out["model"] = (OPENAI_DEFAULT_MODELS[role], None)
        return out

    def unserved_default(self, role: str) -> str | None:
        """Why ``role`` cannot work as configured, when it runs on its default model at an endpoint known not to
        serve it (``direct`` on OpenAI's endpoint); ``None`` otherwise. The message names the role, the model, the
        endpoint and the variables that fix it."""
        resolved = self.resolve(role)
        model, where = resolved["model"]
        base_url = resolved["base_url"][0]
        if where is not None or not _is_openai(base_url) or not model.startswith("qwen"):
            return None
        upper = role.upper()
        return (
            f"the {role!r} role's default model {model} is not served by {url_host(base_url)} (the default "
            f"endpoint): set OMNI_DETECTIVE_{upper}_MODEL and OMNI_DETECTIVE_{upper}_BASE_URL (and "
            f"OMNI_DETECTIVE_{upper}_API_KEY) to an endpoint that serves an omni model, e.g. Qwen's qwen3-omni-flash"
        )

    def with_role(self, role: str, **values: object) -> Settings:
        """A copy with ``values`` (``RoleSettings`` fields) set for ``role``; ``None`` values are ignored."""
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            return self
        roles = dict(self.roles)
        roles[role] = (roles.get(role) or RoleSettings()).model_copy(update=given)
        return self.model_copy(update={"roles": roles})

    def online(self, role: str = "planner") -> bool:
        """True when ``role`` can call its model."""
        return self.endpoint(role).available

    def secrets(self) -> list[str]:
        """Every key held, so logs and errors can redact them."""
        keys = [self.api_key] + [r.api_key for r in self.roles.values()]
        return [k.get_secret_value() for k in keys if k is not None and k.get_secret_value()]


def _is_openai(base_url: str) -> bool:
    return url_host(base_url) == url_host(DEFAULT_BASE_URL)


#: The :class:`Endpoint` fields a role's settings resolve (``role`` itself aside).
_ENDPOINT_FIELDS = ("model", "base_url", "api_key", "timeout", "max_attempts", "backoff", "max_tokens", "context_size")
