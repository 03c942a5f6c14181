"""Settings: endpoints and models per role, from arguments, the environment, a ``.env`` file and TOML files.

Roles are free names; the built-in ones are ``planner``, ``observer`` (the audio LLM), ``vision``, ``captioner``
and ``judge``. For a role ``R`` the environment variables ``OMNI_DETECTIVE_R_MODEL``, ``OMNI_DETECTIVE_R_BASE_URL``
and ``OMNI_DETECTIVE_R_API_KEY`` override the shared ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``;
``OMNI_DETECTIVE_R_MAX_TOKENS`` bounds the role's replies and ``OMNI_DETECTIVE_R_CONTEXT_SIZE`` states its model's
context window in tokens (learnt from a ``context_length_exceeded`` error when not stated). A TOML file says the
same with a table per role (``[planner] model = "..."``).

This module also reads and merges them, with pydantic-settings. Highest first:

1. arguments: ``Settings.from_env(**overrides)``, which the command line fills from its options;
2. the environment: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OMNI_DETECTIVE_TIMEOUT`` (``_MAX_ATTEMPTS``,
   ``_BACKOFF``, ``_OFFLINE``) and ``OMNI_DETECTIVE_<ROLE>_MODEL`` (``_BASE_URL``, ``_API_KEY``, ``_MAX_TOKENS``,
   ``_CONTEXT_SIZE``);
3. a ``.env`` file in the working directory, with the same names;
4. ``./omni-detective.toml``, a project's file;
5. the user's file: ``$OMNI_DETECTIVE_CONFIG``, else ``$XDG_CONFIG_HOME/omni-detective/config.toml``
   (``~/.config/omni-detective/config.toml``);
6. the defaults.

A TOML file holds the shared settings at the top and a table per role, every :class:`RoleSettings` field allowed::

    base_url = "https://api.example.com/v1"
    timeout = 60

    [planner]
    model = "gpt-4.1-mini"
    max_tokens = 512

Each source is checked on its own, so an error names the variable, or the file and key (never a key's value).
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import structlog
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from detective.errors import SettingsError, expected_value

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


@functools.lru_cache(maxsize=256)
def url_host(url: str) -> str:
    """The host (and port) of ``url``, without a user or password it may carry (read on every call: cached)."""
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
        :func:`detective.llm.settings.config_paths`. With an ``env`` mapping, that mapping alone, plus the
        ``dotenv`` and ``config_files`` given (so a test reads nothing it did not pass).

        :raises SettingsError: (a ``ValueError``) a value that cannot be read; the
            message names the variable, or the file and key, never a key's value.
        """
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


# --- where the settings come from ---------------------------------------------------------------------

log = structlog.get_logger("detective.llm.settings")

PROJECT_FILE = "omni-detective.toml"
DOTENV_FILE = ".env"

#: Variables of the shared settings and the field each sets.
SHARED_VARIABLES = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "OMNI_DETECTIVE_TIMEOUT": "timeout",
    "OMNI_DETECTIVE_MAX_ATTEMPTS": "max_attempts",
    "OMNI_DETECTIVE_BACKOFF": "backoff",
    "OMNI_DETECTIVE_OFFLINE": "offline",
}
ROLE_PREFIX = "OMNI_DETECTIVE_"
#: Per-role variable suffixes and the ``RoleSettings`` field each sets (longest first: ``_MAX_TOKENS`` must not be
#: read as a role named ``..._MAX`` with a ``_TOKENS`` suffix). Timeouts and attempts per role have no variable:
#: ``OMNI_DETECTIVE_OBSERVER_TIMEOUT`` is the observers' deadline, not the ``observer`` role's.
ROLE_SUFFIXES = (
    ("_CONTEXT_SIZE", "context_size"),
    ("_MAX_TOKENS", "max_tokens"),
    ("_BASE_URL", "base_url"),
    ("_API_KEY", "api_key"),
    ("_MODEL", "model"),
)
_SHARED_FIELDS = [name for name in Settings.model_fields if name != "roles"]

#: Where a value sits in the settings: ``("timeout",)``, ``("roles", "planner", "model")``.
KeyPath = tuple[str, ...]


def config_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """The TOML files read, lowest precedence first: the user's file, then ``./omni-detective.toml``.

    The user's file is ``$OMNI_DETECTIVE_CONFIG`` when set, else ``$XDG_CONFIG_HOME/omni-detective/config.toml``,
    else ``~/.config/omni-detective/config.toml``. Files that do not exist are skipped (a missing
    ``$OMNI_DETECTIVE_CONFIG`` is an error, see :func:`load`).
    """
    env = os.environ if env is None else env
    if env.get("OMNI_DETECTIVE_CONFIG"):
        user = Path(env["OMNI_DETECTIVE_CONFIG"]).expanduser()
    else:
        base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
        user = base / "omni-detective" / "config.toml"
    return [user, Path(PROJECT_FILE)]


@dataclass
class Layer:
    """What one source says: nested settings data, and where each value came from (for errors and ``config``)."""

    source: str
    data: dict[str, Any] = field(default_factory=dict)
    names: dict[KeyPath, str] = field(default_factory=dict)  # value path -> variable or "[role] key"

    def set(self, path: KeyPath, value: Any, name: str) -> None:
        """Set the value at ``path`` (``("roles", "planner", "model")``), read from ``name``."""
        node = self.data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        self.names[path] = name

    def origin(self, path: KeyPath) -> str:
        """Where the value at ``path`` came from, as ``config`` shows it."""
        name = self.names[path]
        return name if self.source in {"environment", "arguments"} else f"{self.source}: {name}"

    def checked(self) -> dict[str, Any]:
        """The data, once :class:`Settings` accepts it; else a :class:`SettingsError` naming the culprit."""
        try:
            Settings.model_validate(self.data)
        except ValidationError as exc:
            raise SettingsError("; ".join(self._explain(e) for e in exc.errors())) from None
        return self.data

    def _explain(self, error: Any) -> str:
        loc = tuple(str(part) for part in error["loc"])
        path = next((p for p in self.names if loc[: len(p)] == p), loc)
        where = self.origin(path) if path in self.names else f"{self.source}: {'.'.join(loc)}"
        expected = expected_value(error)
        if path[-1] == "api_key":  # never echo a key
            return f"{where} must be {expected}"
        return f"{where} must be {expected}, not {error['input']!r}"


def from_variables(variables: Mapping[str, str | None], source: str) -> Layer:
    """The settings that ``OPENAI_*`` and ``OMNI_DETECTIVE_*`` variables set (empty ones are not set)."""
    layer = Layer(source)
    for name, value in variables.items():
        if not value:
            continue
        if name in SHARED_VARIABLES:
            layer.set((SHARED_VARIABLES[name],), value, name)
        elif name.startswith(ROLE_PREFIX):
            for suffix, attr in ROLE_SUFFIXES:
                if name.endswith(suffix) and len(name) > len(ROLE_PREFIX) + len(suffix):
                    layer.set(("roles", name[len(ROLE_PREFIX) : -len(suffix)].lower(), attr), value, name)
                    break
    return layer


def from_toml(document: Mapping[str, Any], source: str) -> Layer:
    """The settings a TOML document sets: shared ones at the top, a table per role."""
    layer = Layer(source)
    for key, value in document.items():
        if isinstance(value, dict):
            role = key.lower()
            for attr, role_value in value.items():
                if attr not in RoleSettings.model_fields:
                    known = ", ".join(RoleSettings.model_fields)
                    raise SettingsError(f"{source}: [{key}] has no setting {attr!r} (a role's settings: {known})")
                layer.set(("roles", role, attr), role_value, f"[{key}] {attr}")
        elif key in _SHARED_FIELDS:
            layer.set((key,), value, key)
        else:
            raise SettingsError(
                f"{source}: unknown setting {key!r} (shared settings: {', '.join(_SHARED_FIELDS)}; "
                "a role's settings go in its own table, e.g. [planner])"
            )
    return layer


def from_arguments(overrides: Mapping[str, Any]) -> Layer:
    """The settings given as arguments (``Settings.from_env(api_key=..., roles={...})``)."""
    layer = Layer("arguments")
    for key, value in overrides.items():
        if key == "roles" and isinstance(value, Mapping):
            for role, given in value.items():
                attrs = given.model_dump(exclude_none=True) if isinstance(given, BaseModel) else dict(given)
                for attr in attrs:
                    layer.names[("roles", role, attr)] = "argument"
        else:
            layer.names[(key,)] = "argument"
    layer.data = dict(overrides)
    return layer


class _ReadsVariables:
    """Turns the variables a pydantic-settings source read (``env_vars``) into settings."""

    source: str
    env_vars: Mapping[str, str | None]

    def __call__(self) -> dict[str, Any]:
        self.layer = from_variables(self.env_vars, self.source)
        return self.layer.checked()


class _VariablesSource(_ReadsVariables, EnvSettingsSource):
    """Variables of a mapping (the process environment unless given) as settings."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None], source: str) -> None:
        self._given = variables
        self.source = source
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return dict(self._given)


class _DotEnvSource(_ReadsVariables, DotEnvSettingsSource):
    """A ``.env`` file's variables as settings (pydantic-settings reads it with python-dotenv)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.source = str(path)
        try:
            super().__init__(settings_cls, env_file=path, case_sensitive=True)
        except UnicodeDecodeError as exc:
            raise SettingsError(f"{path}: not a .env file (not UTF-8 text: byte {exc.start})") from None


class _TomlSource(TomlConfigSettingsSource):
    """One TOML config file as settings; a file that is not valid TOML is an error naming it."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.source = str(path)
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            with open(file_path, "rb") as fh:
                document = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{file_path}: not a valid TOML file ({exc})") from None
        except UnicodeDecodeError as exc:
            raise SettingsError(f"{file_path}: not a TOML file (not UTF-8 text: byte {exc.start})") from None
        except OSError as exc:
            raise SettingsError(f"{file_path}: cannot read the config file ({exc.strerror or exc})") from None
        self.layer = from_toml(document, str(file_path))
        return self.layer.checked()


class _ArgumentsSource(InitSettingsSource):
    """The arguments of ``Settings.from_env``; they win over everything."""

    def __init__(self, settings_cls: type[BaseSettings], overrides: Mapping[str, Any]) -> None:
        self.layer = from_arguments(overrides)
        super().__init__(settings_cls, init_kwargs=dict(overrides))


class _Merged(BaseSettings, Settings):
    """:class:`Settings` as pydantic-settings merges them from the sources :func:`load` builds."""

    model_config = SettingsConfigDict(extra="ignore")


@dataclass
class Loaded:
    """Settings and where their values came from."""

    settings: Settings
    layers: list[Layer]  # highest precedence first
    files: list[tuple[str, Path, bool]]  # (kind, path, exists) of every file consulted

    def origin(self, path: KeyPath | None) -> str:
        """Where the value at ``path`` came from: a variable, ``file: [role] key``, ``argument`` or ``default``."""
        if path is None:
            return "default"
        for layer in self.layers:
            if path in layer.names:
                return layer.origin(path)
        return "default"


def load(
    env: Mapping[str, str] | None = None,
    *,
    dotenv: str | Path | None = None,
    config_files: Sequence[str | Path] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Loaded:
    """Read and merge every source (see the module's docstring); ``env=None`` means the process environment with
    ``./.env`` and :func:`config_paths`, a mapping means that mapping with only the files passed."""
    if env is None:
        env = os.environ
        dotenv = DOTENV_FILE if dotenv is None else dotenv
        if config_files is None:
            config_files = config_paths(env)
            named = env.get("OMNI_DETECTIVE_CONFIG")
            if named and not Path(named).expanduser().is_file():
                raise SettingsError(f"OMNI_DETECTIVE_CONFIG names {named}, which is not a file")
    files: list[tuple[str, Path, bool]] = [("toml", Path(p), _is_config_file(p)) for p in config_files or ()]
    sources: list[PydanticBaseSettingsSource] = [
        _ArgumentsSource(_Merged, overrides or {}),
        _VariablesSource(_Merged, env, "environment"),
    ]
    if dotenv is not None:
        path = Path(dotenv)
        files.insert(0, ("dotenv", path, _is_config_file(path)))
        sources.append(_DotEnvSource(_Merged, path))
    sources += [_TomlSource(_Merged, path) for kind, path, exists in reversed(files) if kind == "toml" and exists]
    merged = _Merged(_build_sources=(tuple(sources), {}))
    settings = Settings.model_validate({name: getattr(merged, name) for name in Settings.model_fields})
    layers = [source.layer for source in sources if hasattr(source, "layer")]  # type: ignore[attr-defined]
    log.debug("settings read", files=[f"{p} ({'read' if e else 'absent'})" for _, p, e in files])
    return Loaded(settings=settings, layers=layers, files=files)


def _is_config_file(path: str | Path) -> bool:
    """True for a file to read, False for one that is absent; anything else there (a directory, a FIFO) is an
    error naming it, never silently skipped."""
    path = Path(path)
    if path.is_file():
        return True
    if path.exists() or path.is_symlink():
        what = "a directory" if path.is_dir() else "not a regular file"
        raise SettingsError(f"{path}: is {what}, not a config file; remove or rename it")
    return False


def redact_key(key: SecretStr | None) -> str | None:
    """An API key as ``config`` shows it: ``sk-…abcd`` for a long key, ``<set>`` for a short one, ``None`` unset."""
    if key is None or not key.get_secret_value():
        return None
    value = key.get_secret_value()
    if len(value) < 20:
        return "<set>"
    prefix = re.match(r"[A-Za-z]{2,4}-", value)
    return f"{prefix.group(0) if prefix else ''}…{value[-4:]}"


def describe(loaded: Loaded, roles: Sequence[str]) -> dict[str, Any]:
    """The resolved settings of each role, keys redacted, each value with its origin: ``omni-detective config``."""
    settings = loaded.settings
    out: dict[str, Any] = {
        "files": [{"kind": kind, "path": str(path), "exists": exists} for kind, path, exists in loaded.files],
        "offline": {"value": settings.offline, "from": loaded.origin(("offline",))},
        "roles": {},
    }
    for role in roles:
        row: dict[str, Any] = {}
        for name, (value, path) in settings.resolve(role).items():
            if name == "api_key":
                value = redact_key(value)
            elif name == "base_url":
                name, value = "endpoint", url_host(value)
            row[name] = {"value": value, "from": loaded.origin(path)}
        out["roles"][role] = row
    return out
