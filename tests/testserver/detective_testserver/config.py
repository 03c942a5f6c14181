"""What the server gets wrong on purpose: injected :class:`Faults` and the :class:`Quirks` of real endpoints."""

from __future__ import annotations

from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "timeout", "malformed", "truncated", "trickle")
#: The kinds drawn unless ``Faults.kinds`` says otherwise: ``trickle`` is opt-in (it holds a reply for seconds).
DEFAULT_KINDS = ("429", "500", "timeout", "malformed", "truncated")


@dataclass
class Faults:
    """Fault injection: each request fails with probability ``rate``, the kind drawn from ``kinds``.

    - ``429``: status 429 with ``Retry-After: retry_after`` seconds.
    - ``500``: status 500 with an OpenAI-style error body.
    - ``timeout``: the reply is held for ``timeout_sleep`` seconds (set it above the client's timeout).
    - ``malformed``: a 200 reply whose tool-call arguments are not JSON (plain content is cut mid-sentence
      when the request offers no tools).
    - ``truncated``: half the body is sent and the connection closed before ``Content-Length`` is reached.
    - ``trickle``: a 200 reply whose head is sent at once and whose body follows a few bytes at a time, spread
      over ``trickle_seconds`` with pauses of about ``trickle_interval``: no single read waits long, so only a
      total deadline on the request ends it early.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    weights: tuple[float, ...] | None = None
    retry_after: float = 0.01
    timeout_sleep: float = 1.0
    trickle_seconds: float = 2.0
    trickle_interval: float = 0.05

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if self.trickle_interval <= 0.0 or self.trickle_seconds < 0.0:
            raise ValueError("trickle_interval must be positive and trickle_seconds not negative")


@dataclass
class Quirks:
    """How a real endpoint (a small local model behind an OpenAI-compatible server) departs from the API.

    - ``ignore_tools``: ``tools`` are accepted and ignored: the responder sees the request without them.
    - ``refuse_parts``: content-part types (``input_audio``, ``image_url`` …) answered with a 500.
    - ``context_size``: a prompt of at least this many tokens (4 bytes of the messages' JSON each) is answered
      400 ``context_length_exceeded`` with OpenAI's message, which states the window.
    - ``endless``: the model never stops by itself: it generates until ``max_tokens`` (else until the context, or
      ``endless_tokens``, is full) and the reply ends with ``finish_reason: "length"``; each token takes
      ``token_seconds``.
    """

    ignore_tools: bool = False
    refuse_parts: frozenset[str] = frozenset()
    context_size: int | None = None
    endless: bool = False
    endless_tokens: int = 8192
    token_seconds: float = 0.0
