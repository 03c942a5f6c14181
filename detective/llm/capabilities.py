"""What an endpoint's model can do, learnt from its replies and kept for the run (and in the cache, when one is set).

Real OpenAI-compatible endpoints differ: some ignore ``tools`` and answer in prose, some cannot take ``input_audio``
or ``image_url`` parts (and answer 500), some have a small context window. Each fact is ``None`` until a reply shows
it; callers read it to pick a mode (function calling or JSON replies), to skip a tool whose model cannot take its
input, and to fit prompts to the context.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from detective.llm.settings import Endpoint

CACHE_NAMESPACE = "capabilities"

#: A conservative bytes-per-token for estimates (English text runs about 4; JSON and numbers fewer).
BYTES_PER_TOKEN = 3
#: Tokens a chat message's framing (role, separators) adds in an estimate.
MESSAGE_TOKENS = 4
#: Times a model's unusable reply is sent back for repair before the caller gives up on it: the one count of the
#: LLM planner, the LLM captioner and the Omni-Cloze judge.
MAX_REPAIRS = 2

#: Content-part types of a chat message and the input each needs.
PART_INPUTS = {"input_audio": "audio", "image_url": "image", "video_url": "video"}

_CONTEXT_PATTERNS = (
    re.compile(r"maximum context length is (\d+)", re.I),
    re.compile(r"context window of (\d+)", re.I),
    re.compile(r"context (?:length|size|window)[^0-9]{0,20}(\d{3,})", re.I),
    re.compile(r"n_ctx[^0-9]{0,10}(\d{3,})", re.I),
)


def estimate_tokens(content: str | Sequence[Mapping[str, Any]]) -> int:
    """A conservative token estimate, to fit a prompt to a model's context before sending it: of a text, or of chat
    messages (their contents plus :data:`MESSAGE_TOKENS` each). The one estimator of planner, captioner and judge."""
    if isinstance(content, str):
        return len(content.encode()) // BYTES_PER_TOKEN + 1
    size = 0
    for message in content:
        part = message.get("content") or ""
        size += len((part if isinstance(part, str) else json.dumps(part)).encode())
    return size // BYTES_PER_TOKEN + MESSAGE_TOKENS * len(content)


@dataclass
class Capabilities:
    """Facts about one endpoint and model; ``None`` means not known yet."""

    function_calling: bool | None = None
    audio_input: bool | None = None
    image_input: bool | None = None
    video_input: bool | None = None
    context_size: int | None = None

    def accepts(self, kind: str) -> bool | None:
        """Whether the model takes ``kind`` (``audio``, ``image`` or ``video``) input; ``None`` when unknown."""
        value = getattr(self, f"{kind}_input", None)
        return value if isinstance(value, bool) else None


def endpoint_key(endpoint: Endpoint) -> str:
    """The store key of an endpoint's model: base URL and model id (never the key)."""
    return f"{endpoint.base_url.rstrip('/')}|{endpoint.model}"


def context_size_from_error(message: str) -> int | None:
    """The context window an overflow error states (OpenAI's and llama.cpp's wordings), else ``None``."""
    for pattern in _CONTEXT_PATTERNS:
        match = pattern.search(message)
        if match:
            return int(match.group(1))
    return None


def inputs_of(messages: list[dict[str, Any]]) -> set[str]:
    """The non-text inputs (``audio``, ``image``, ``video``) the messages carry."""
    kinds: set[str] = set()
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in PART_INPUTS:
                    kinds.add(PART_INPUTS[part["type"]])
    return kinds


def without_media(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every audio, image and video part left out, the text parts joined into plain content: the
    form every chat endpoint takes (some cannot even render a list of parts), for a text-only probe."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            text = [str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"]
            message = {**message, "content": "\n".join(t for t in text if t) or "Reply OK."}
        out.append(message)
    return out


class CapabilityStore:
    """Capabilities per endpoint and model for one run; thread-safe; persisted in ``cache`` when one is given."""

    def __init__(self, cache: Any = None) -> None:
        self.cache = cache
        self._known: dict[str, Capabilities] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: Endpoint) -> Capabilities:
        """What is known of ``endpoint`` (a configured context size fills in an unknown one)."""
        key = endpoint_key(endpoint)
        with self._lock:
            caps = self._known.get(key)
            if caps is None:
                caps = self._load(key)
                self._known[key] = caps
            if caps.context_size is None and endpoint.context_size:
                caps.context_size = endpoint.context_size
            return replace(caps)  # a copy (scalar fields): asdict's deep walk costs more, on every chat call

    def learn(self, endpoint: Endpoint, **facts: Any) -> bool:
        """Record ``facts`` (fields of :class:`Capabilities`); True when something changed."""
        key = endpoint_key(endpoint)
        with self._lock:
            caps = self._known.get(key) or self._load(key)
            self._known[key] = caps
            changed = False
            for name, value in facts.items():
                if not hasattr(caps, name):
                    raise AttributeError(f"unknown capability {name!r}")
                if value is not None and getattr(caps, name) != value:
                    setattr(caps, name, value)
                    changed = True
            snapshot = asdict(caps)
        if changed and self.cache is not None:
            self.cache.put(CACHE_NAMESPACE, key, snapshot)
        return changed

    def _load(self, key: str) -> Capabilities:
        if self.cache is None:
            return Capabilities()
        data = self.cache.get(CACHE_NAMESPACE, key)
        if not isinstance(data, dict):
            return Capabilities()
        fields = Capabilities.__dataclass_fields__
        return Capabilities(**{k: v for k, v in data.items() if k in fields})
