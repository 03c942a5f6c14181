"""The Omni-Cloze judges: the LLM judge (upstream's protocol) and a deterministic lexical proxy for offline use.

Both have ``async judge(record) -> dict`` returning the output record: the input record plus ``judge`` (who judged,
how, and whether it failed) and ``predictions`` (``{"1": "A", …}``; ``None`` marks an unanswered blank).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from detective.llm.capabilities import MAX_REPAIRS, estimate_tokens
from detective.llm.client import CONTEXT_LENGTH_EXCEEDED, LLMError
from detective.runtime import Cache, RunServices
from detective_cloze.lexical import contains, normalise, phrase
from detective_cloze.prompts import PROMPT_HASH, SYSTEM_PROMPT, repair_message, user_message
from detective_cloze.records import DEFAULT_CAPTION_FIELD, NOT_GIVEN, ClozeItem, judge_view, parse_cloze
from detective_cloze.replies import parse_reply

CACHE_NAMESPACE = "cloze-judge"
RAW_REPLY_LIMIT = 4000
LEXICAL_VERSION = "cloze-lexical/1"
LEXICAL_HASH = hashlib.sha256(LEXICAL_VERSION.encode()).hexdigest()[:16]
LEXICAL_LABEL = "offline lexical proxy (word matching), not the Omni-Cloze LLM judge; scores are not comparable"
#: ``judge.error_kind`` of a record whose prompt does not fit the judge model's context: judging it again at
#: temperature 0 fails the same way, so the next run leaves it alone (``--retry-failed`` tries it again).
CONTEXT_ERROR = "context"
#: Tokens kept free for the chat template's own tokens.
CONTEXT_MARGIN = 32


def sha(text: str) -> str:
    """sha256 hex digest of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def caption_of(record: dict[str, Any], field: str) -> str | None:
    """The caption in ``field``, or ``None`` when it is missing, not text, or blank."""
    value = record.get(field)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _output(record: dict[str, Any], judge: dict[str, Any], predictions: dict[str, str | None]) -> dict[str, Any]:
    out = dict(record)
    out["judge"] = judge
    out["predictions"] = predictions
    return out


def _all_not_given(item: ClozeItem) -> dict[str, str | None]:
    return dict.fromkeys(item.blank_ids, NOT_GIVEN)


class LLMJudge:
    """Upstream's judge: one chat call per record with the passage, its options and the caption (temperature 0).

    The reply is parsed robustly; an unreadable reply is re-asked up to ``repair_attempts`` times (each repair
    replacing the previous one, so the prompt does not grow), then counted as E for every blank and flagged
    ``failed`` (upstream's rule). A prompt that does not fit the judge model's context (known from configuration
    or from an earlier overflow) is not sent: the record is failed with that reason (``error_kind: "context"``),
    as it is when the endpoint reports an overflow. Results are cached by judge model, endpoint, prompt hash and
    caption hash. Any other chat error (after the client's own retries) propagates as :class:`LLMError`.
    """

    name = "cloze-llm"
    #: It calls the ``judge`` role's model (``omni-detective roles`` and ``doctor --live`` list it as that role's user).
    needs_api = True
    role = "judge"

    def __init__(
        self,
        services: RunServices | None = None,
        *,
        caption_field: str = DEFAULT_CAPTION_FIELD,
        cache: Cache | None = None,
        repair_attempts: int = MAX_REPAIRS,
        max_tokens: int | None = None,
    ) -> None:
        self.services = services or RunServices()
        self.client = self.services.llm("judge")
        self.caption_field = caption_field
        self.cache = cache if cache is not None else self.services.cache
        store = self.services.capabilities
        if store.cache is None and self.cache is not None:
            store.cache = self.cache  # what the judge model can take is kept with its replies
        self.repair_attempts = repair_attempts
        self.max_tokens = max_tokens

    @property
    def model(self) -> str:
        """The judge model id."""
        return self.client.model

    @property
    def endpoint_host(self) -> str:
        """The judge endpoint's host."""
        return self.client.endpoint.host

    def describe(self) -> dict[str, Any]:
        """What identifies this judge in a result: name, model, endpoint host and prompt hash."""
        return {
            "name": self.name,
            "model": self.model,
            "endpoint_host": self.endpoint_host,
            "prompt_hash": PROMPT_HASH,
        }

    def messages(self, item: ClozeItem, caption: str) -> list[dict[str, str]]:
        """The chat messages for one record: the system rules, then the passage view and the delimited caption."""
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_message(judge_view(item), caption, item.blank_ids)},
        ]

    def overflow(self, messages: list[dict[str, str]]) -> str:
        """Why ``messages`` cannot fit the judge model's context with room for its reply; "" when they fit or the
        context is unknown."""
        context = self.client.capabilities().context_size
        if not context:
            return ""
        reply = self.max_tokens or self.client.endpoint.max_tokens or 0
        need = estimate_tokens(messages)
        if need + reply + CONTEXT_MARGIN <= context:
            return ""
        return (
            f"the judge prompt (about {need} tokens) and its reply ({reply} tokens) do not fit the judge model's "
            f"context of {context} tokens; use a judge model with a larger context (or a shorter caption)"
        )

    def _context_failure(
        self, record: dict[str, Any], info: dict[str, Any], item: ClozeItem, reason: str, attempts: int
    ) -> dict[str, Any]:
        info.update(raw_reply=None, failed=True, attempts=attempts, error_kind=CONTEXT_ERROR, error=reason)
        return _output(record, info, _all_not_given(item))

    def cache_key(self, item: ClozeItem, caption: str) -> str:
        """Judge model, endpoint host, prompt hash (template and the rendered passage) and caption hash."""
        question = sha(json.dumps([judge_view(item), item.blank_ids]))
        return sha(json.dumps([self.model, self.endpoint_host, PROMPT_HASH, question, sha(caption)]))

    async def judge(self, record: dict[str, Any]) -> dict[str, Any]:
        """Judge one record; returns the output record. Raises :class:`ClozeFormatError` or :class:`LLMError`."""
        item = parse_cloze(record)
        info = self.describe()
        caption = caption_of(record, self.caption_field)
        if caption is None:
            info.update(raw_reply=None, failed=False, attempts=0, caption_missing=True)
            return _output(record, info, _all_not_given(item))
        key = self.cache_key(item, caption)
        if self.cache is not None:
            hit = self.cache.get(CACHE_NAMESPACE, key)
            if hit is not None:
                info.update(hit["judge"], cached=True)
                return _output(record, info, hit["predictions"])
        base = self.messages(item, caption)
        messages = base
        options = {b.id: b.options for b in item.blanks}
        raw = ""
        attempts = 0
        parsed = None
        for attempt in range(self.repair_attempts + 1):
            too_long = self.overflow(messages)
            if too_long:
                return self._context_failure(record, info, item, too_long, attempts)
            attempts = attempt + 1
            try:
                reply = await self.client.chat(messages, temperature=0, max_tokens=self.max_tokens, cache=False)
            except LLMError as exc:
                if exc.code != CONTEXT_LENGTH_EXCEEDED:
                    raise
                return self._context_failure(record, info, item, str(exc), attempts)
            raw = reply.content or ""
            parsed = parse_reply(raw, item.blank_ids, options)
            if parsed.ok:
                break
            messages = [
                *base,
                {"role": "assistant", "content": raw[:RAW_REPLY_LIMIT]},
                {"role": "user", "content": repair_message(parsed.reason, item.blank_ids)},
            ]
        assert parsed is not None
        info.update(raw_reply=raw[:RAW_REPLY_LIMIT], failed=not parsed.ok, attempts=attempts)
        if not parsed.ok:
            info["error"] = f"unparseable judge reply after {attempts} attempt(s): {parsed.reason}"
            return _output(record, info, _all_not_given(item))
        if self.cache is not None:
            self.cache.put(CACHE_NAMESPACE, key, {"judge": info, "predictions": parsed.predictions})
        return _output(record, info, parsed.predictions)


class LexicalJudge:
    """Offline proxy: picks the option whose words the caption states, E when none or more than one does.

    Deterministic and free, for demos, smoke tests and CI. It is not the Omni-Cloze judge: it misses paraphrases
    and cannot tell negation ("no siren") from mention, so its scores are not comparable to published ones.
    """

    name = "cloze-lexical"
    model = LEXICAL_VERSION
    endpoint_host = "local"

    def __init__(self, *, caption_field: str = DEFAULT_CAPTION_FIELD) -> None:
        self.caption_field = caption_field

    def describe(self) -> dict[str, Any]:
        """What identifies this judge in a result, labelled as a proxy."""
        return {
            "name": self.name,
            "model": self.model,
            "endpoint_host": self.endpoint_host,
            "prompt_hash": LEXICAL_HASH,
            "proxy": LEXICAL_LABEL,
        }

    def choose(self, item: ClozeItem, caption: str) -> dict[str, str | None]:
        """The letter per blank: the one option stated in ``caption``, else E."""
        words = normalise(caption)
        predictions: dict[str, str | None] = {}
        for blank in item.blanks:
            stated = [letter for letter, text in blank.options.items() if contains(words, phrase(text))]
            predictions[blank.id] = stated[0] if len(stated) == 1 else NOT_GIVEN
        return predictions

    async def judge(self, record: dict[str, Any]) -> dict[str, Any]:
        """Judge one record; returns the output record. Raises :class:`ClozeFormatError` on a bad record."""
        item = parse_cloze(record)
        info = self.describe()
        caption = caption_of(record, self.caption_field)
        if caption is None:
            info.update(raw_reply=None, failed=False, caption_missing=True)
            return _output(record, info, _all_not_given(item))
        predictions = self.choose(item, caption)
        info.update(raw_reply=json.dumps(predictions), failed=False)
        return _output(record, info, predictions)


def make_llm_judge() -> LLMJudge:
    """Factory registered as ``cloze-llm``: the LLM judge on the current run's services."""
    from detective.runtime import current_services

    return LLMJudge(current_services())


# read through the registry's Lazy entry by `omni-detective roles` and `doctor`, without building a judge
make_llm_judge.needs_api = LLMJudge.needs_api  # type: ignore[attr-defined]
make_llm_judge.role = LLMJudge.role  # type: ignore[attr-defined]


def make_lexical_judge() -> LexicalJudge:
    """Factory registered as ``cloze-lexical``: the offline lexical proxy judge."""
    return LexicalJudge()


__all__ = [
    "CACHE_NAMESPACE",
    "LEXICAL_LABEL",
    "LLMJudge",
    "LexicalJudge",
    "make_lexical_judge",
    "make_llm_judge",
]
