"""Settings: endpoints and models per role, read from arguments first, then environment variables.

Roles are free names; the built-in ones are ``planner``, ``observer`` (the audio LLM), ``vision``, ``captioner``
and ``judge``. For a role ``R`` the environment variables ``OMNI_DETECTIVE_R_MODEL``, ``OMNI_DETECTIVE_R_BASE_URL``
and ``OMNI_DETECTIVE_R_API_KEY`` override the shared ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``;
``OMNI_DETECTIVE_R_MAX_TOKENS`` bounds the role's replies and ``OMNI_DETECTIVE_R_CONTEXT_SIZE`` states its model's
context window in tokens (learnt from a ``context_length_exceeded`` error when not stated).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr

DEFAULT_MODELS: dict[str, str] = {
    "planner": "gpt-4.1-2025-04-14",
    "observer": "qwen3-omni-flash",
    "vision": "qwen3-omni-flash",
    "captioner": "gpt-4.1-2025-04-14",
    "judge": "gpt-4.1-2025-04-14",
    "direct": "qwen3-omni-flash",
}
DEFAULT_BASE_URL = "https://api.openai.com/v1"
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
        """The endpoint's host, safe to record (never the key)."""
        return urlparse(self.base_url).netloc or self.base_url

    @property
    def available(self) -> bool:
        """True when a key is set, so calls can be made."""
        return self.api_key is not None and bool(self.api_key.get_secret_value())


class RoleSettings(BaseModel):
    """Overrides for one role; ``None`` falls back to the environment, then to the shared settings."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = None
    max_attempts: int | None = None
    max_tokens: int | None = Field(default=None, ge=1, description="Reply limit (OMNI_DETECTIVE_<ROLE>_MAX_TOKENS).")
    context_size: int | None = Field(
        default=None, ge=1, description="Context window in tokens (OMNI_DETECTIVE_<ROLE>_CONTEXT_SIZE)."
    )


class Settings(BaseModel):
    """Everything configurable about LLM access. Build with :meth:`from_env` to read the environment."""

    api_key: SecretStr | None = Field(default=None, description="Shared key (OPENAI_API_KEY).")
    base_url: str | None = Field(default=None, description="Shared endpoint (OPENAI_BASE_URL).")
    timeout: float = Field(default=120.0, description="Request timeout in seconds (OMNI_DETECTIVE_TIMEOUT).")
    max_attempts: int = Field(default=4, description="Attempts per call (OMNI_DETECTIVE_MAX_ATTEMPTS).")
    backoff: float = Field(default=0.5, description="First retry delay in seconds (OMNI_DETECTIVE_BACKOFF).")
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    offline: bool = Field(default=False, description="Never call a remote model, even with a key set.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``OPENAI_*`` and ``OMNI_DETECTIVE_*`` variables, then ``overrides``."""
        env = dict(os.environ if env is None else env)
        data: dict[str, object] = {
            "api_key": env.get("OPENAI_API_KEY") or None,
            "base_url": env.get("OPENAI_BASE_URL") or None,
        }
        if env.get("OMNI_DETECTIVE_TIMEOUT"):
            data["timeout"] = float(env["OMNI_DETECTIVE_TIMEOUT"])
        if env.get("OMNI_DETECTIVE_MAX_ATTEMPTS"):
            data["max_attempts"] = int(env["OMNI_DETECTIVE_MAX_ATTEMPTS"])
        if env.get("OMNI_DETECTIVE_BACKOFF"):
            data["backoff"] = float(env["OMNI_DETECTIVE_BACKOFF"])
        if env.get("OMNI_DETECTIVE_OFFLINE", "").lower() in {"1", "true", "yes"}:
            data["offline"] = True
        roles: dict[str, RoleSettings] = {}
        prefix = "OMNI_DETECTIVE_"
        for key, value in env.items():
            if not key.startswith(prefix) or not value:
                continue
            for suffix, attr in _ROLE_SUFFIXES:
                if key.endswith(suffix) and len(key) > len(prefix) + len(suffix):
                    role = key[len(prefix) : -len(suffix)].lower()
                    roles.setdefault(role, RoleSettings())
                    setattr(roles[role], attr, _role_value(key, attr, value))
                    break
        data["roles"] = roles
        data.update(overrides)
        return cls.model_validate(data)

    def endpoint(self, role: str) -> Endpoint:
        """The endpoint for ``role``: role overrides, then the shared settings, then defaults."""
        rs = self.roles.get(role, RoleSettings())
        fallback_role = "observer" if role == "vision" else None
        fb = self.roles.get(fallback_role, RoleSettings()) if fallback_role else RoleSettings()
        key = rs.api_key or fb.api_key or self.api_key
        same_model = not rs.model or rs.model == fb.model  # vision borrows the observer's window on its model only
        return Endpoint(
            role=role,
            model=rs.model or DEFAULT_MODELS.get(role) or DEFAULT_MODELS["planner"],
            base_url=rs.base_url or fb.base_url or self.base_url or DEFAULT_BASE_URL,
            api_key=None if self.offline else key,
            timeout=rs.timeout or self.timeout,
            max_attempts=rs.max_attempts or self.max_attempts,
            backoff=self.backoff,
            max_tokens=rs.max_tokens or fb.max_tokens or DEFAULT_MAX_TOKENS.get(role, FALLBACK_MAX_TOKENS),
            context_size=rs.context_size or (fb.context_size if same_model else None),
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


#: Per-role environment suffixes and the ``RoleSettings`` field each sets (longest first: ``_MAX_TOKENS`` must not
#: be read as a role named ``..._MAX`` with a ``_TOKENS`` suffix).
_ROLE_SUFFIXES = (
    ("_CONTEXT_SIZE", "context_size"),
    ("_MAX_TOKENS", "max_tokens"),
    ("_BASE_URL", "base_url"),
    ("_API_KEY", "api_key"),
    ("_MODEL", "model"),
)


def _role_value(key: str, attr: str, value: str) -> object:
    if attr == "api_key":
        return SecretStr(value)
    if attr in {"max_tokens", "context_size"}:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{key} must be a whole number of tokens, not {value!r}") from None
        if number < 1:
            raise ValueError(f"{key} must be at least 1, not {number}")
        return number
    return value
