"""The LLM captioner: an OpenAI-compatible model integrates the evidence into the structured caption.

The model gets the seed's structured-description prompt (audio or audio-video variant) and the board as a JSON
data block it is told never to obey: coverage, observations by key, settled contradictions and repairs, and the LLM
observers' clauses with their verdicts (:func:`evidence_json`). Its caption's claims are measured by the same
grounding as the template's (:mod:`detective.evidence.grounding`). Its reply is parsed and validated; problems are sent
back for at most :attr:`LLMCaptioner.max_repairs` rewrites; if the reply is still unusable (or the model cannot be
reached) the template caption is used and a note says so.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.evidence import claims
from detective.evidence.crosscheck import CrossCheck, cross_check
from detective.evidence.digest import coverage_digest
from detective.evidence.grounding import measure
from detective.llm.capabilities import MAX_REPAIRS, estimate_tokens
from detective.llm.client import LLMError
from detective.models import Caption, Evidence, MediaInfo
from detective.runtime import current_services
from detective_captioning.format import (
    STORYLINE,
    TRANSCRIPT,
    VISIBLE_TEXT,
    format_time,
    parse_report,
    render,
    validate,
)
from detective_captioning.options import LLMOptions
from detective_captioning.prompts import (
    AUDIO_PROMPT,
    AUDIO_VIDEO_PROMPT,
    INTEGRATION_SYSTEM,
    INTEGRATION_USER,
    REPAIR_USER,
    prompt_hash,
)
from detective_captioning.template import build_caption

#: Observations sent to the model at most; the rest are summarised by count.
MAX_OBSERVATIONS = 400
#: Payload keys too bulky or too internal to send (word timings are in the segment text already).
_DROP_PAYLOAD = {"words", "box"}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def clip_summary(media: MediaInfo) -> str:
    """One line about the clip for the prompt: kind, duration, streams."""
    parts = [f"{media.kind} clip, duration {media.duration:.3f} s ({format_time(media.duration)})"]
    if media.has_video and media.width and media.height:
        parts.append(f"{media.width}x{media.height}" + (f" at {media.fps:.3g} fps" if media.fps else ""))
    parts.append("with an audio track" if media.has_audio else "without an audio track")
    return ", ".join(parts)


def evidence_json(
    evidence: Evidence, checks: CrossCheck | None = None, settled: list[claims.Settled] | None = None
) -> str:
    """The evidence as JSON data for the prompt. Backticks are escaped so the data can never close its fence.

    It carries what the observers examined (coverage) and the board as the cross-check engine settled it: speech as
    repaired and marked, set-aside speech left out, the repairs listed, every observation by its key, and the LLM
    observers' answers clause by clause with their verdict (``llm_claims``: contradicted, confirmed or reported,
    with the keys and findings of the observations that decide it); failed observers by name only. An answer's text
    is given once, as its clauses in ``llm_claims`` (its observation keeps its key, span and details), unless
    clauses had to be left out there.
    """
    checks = checks or cross_check(evidence)
    settled = claims.settle(evidence) if settled is None else settled
    # Every clause of every description (an LLM observer's answer) is in "llm_claims" with its answers' keys: when
    # none is left out there, the answers' text is not sent a second time in "observations".
    clauses_listed = len(settled) <= MAX_OBSERVATIONS
    ordered = sorted(
        (o for o in evidence.observations if o.key not in checks.rejected),
        key=lambda o: (o.span.start if o.span else -1.0, o.tool),
    )
    observations = []
    for obs in ordered[:MAX_OBSERVATIONS]:
        item: dict[str, Any] = {"id": obs.key, "tool": obs.tool, "kind": obs.kind}
        if obs.span is not None:
            item["start"], item["end"] = round(obs.span.start, 3), round(obs.span.end, 3)
        if obs.kind != "description" or not clauses_listed:
            item["content"] = checks.said(obs) if obs.kind == "speech" else obs.content
        if obs.confidence is not None:
            item["confidence"] = round(obs.confidence, 3)
        details = obs.payload.model_dump(mode="json", exclude=_DROP_PAYLOAD)
        if details.get("chunks") == 1 and details.get("chunk") == 0:  # the answer is about its whole span
            del details["chunk"], details["chunks"]
        if details:
            item["details"] = _rounded(details)
        observations.append(item)
    data: dict[str, Any] = {"coverage": coverage_digest(evidence).splitlines(), "observations": observations}
    if len(ordered) > MAX_OBSERVATIONS:
        data["observations_left_out"] = len(ordered) - MAX_OBSERVATIONS
    relation = lambda r: {  # noqa: E731
        "tools": list(r.tools),
        "says": [r.a_says, r.b_says],
        **({"start": round(r.span.start, 3), "end": round(r.span.end, 3)} if r.span else {}),
    }
    # The LLM answers' claims are checked in "llm_claims" below, clause by clause with the findings that decide
    # them: their relations are not listed twice (every pair of like answers would repeat both clauses again).
    contradictions = [r for r in evidence.contradictions if not r.aspect]
    agreements = [r for r in evidence.agreements if not r.aspect]
    if contradictions:
        data["contradictions"] = [relation(r) for r in contradictions[:100]]
    if agreements:
        data["agreements"] = [relation(r) for r in agreements[:100]]
    if checks.repairs:
        data["repairs"] = [f"heard “{r.heard}”, {r.source.tool} gives “{r.chosen}”: {r.reason}" for r in checks.repairs]
    if checks.rejected:
        data["left_out"] = list(checks.rejected.values())
    if settled:
        data["llm_claims"] = [_claim_item(item) for item in settled[:MAX_OBSERVATIONS]]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))  # compact: the C encoder, fewer tokens
    # A backtick only ever occurs inside a JSON string, where \u0060 is the same character.
    return text.replace("`", "\\u0060")


def _claim_item(item: claims.Settled) -> dict[str, Any]:
    """One clause of the LLM answers for the prompt: what it says, who said it, its verdict and why."""
    out: dict[str, Any] = {"says": item.clause, "ids": [o.key for o in item.sources], "status": item.status}
    if item.span is not None:
        out["start"], out["end"] = round(item.span.start, 3), round(item.span.end, 3)
    if item.against:
        out["contradicted_by"] = [f"{r.tools[0]} ({r.a}): {r.a_says}" for r in item.against]
    if item.support:
        out["confirmed_by"] = [f"{r.tools[0]} ({r.a}): {r.a_says}" for r in item.support]
    return out


def check_reply(text: str, media: MediaInfo) -> tuple[Caption, list[str]]:
    """Parse a model's caption and list what is wrong with it (empty when it can be used)."""
    report = parse_report(text)
    caption = report.caption
    problems = list(report.problems)
    if STORYLINE not in report.found or not caption.storyline:
        problems.append("there is no '## Storyline' section with '<start> - <end>' lines and paragraphs")
    for i, seg in enumerate(caption.storyline, 1):
        if not seg.text.strip():
            problems.append(f"storyline segment {i} ({format_time(seg.span.start)}) has no paragraph")
    if media.has_video and VISIBLE_TEXT not in report.found:
        problems.append("the '## Visible Text' section is missing (if no text appears, say so explicitly)")
    if TRANSCRIPT not in report.found:
        problems.append("the '## Speakers and Transcript' section is missing (if no speech appears, say so explicitly)")
    problems.extend(validate(caption, media.duration))
    if not media.has_video:
        caption = caption.model_copy(update={"visible_text": None})
    elif caption.visible_text is None:
        caption = caption.model_copy(update={"visible_text": []})
    return caption, problems


class LLMCaptioner(Captioner):
    """Integrates the evidence with an OpenAI-compatible chat model (role ``captioner``)."""

    name = "llm"
    needs_api = True
    options_model = LLMOptions
    role: ClassVar[str] = "captioner"
    max_repairs: ClassVar[int] = MAX_REPAIRS

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """Ask the model for the caption, repair it at most twice, else fall back to the template caption."""
        media = job.media
        prompt = AUDIO_VIDEO_PROMPT if media.has_video else AUDIO_PROMPT
        digest = prompt_hash(INTEGRATION_SYSTEM, INTEGRATION_USER, REPAIR_USER, prompt)
        client = current_services().llm(self.role)
        user = {
            "role": "user",
            "content": INTEGRATION_USER.format(
                prompt=prompt, clip=clip_summary(media), evidence=evidence_json(job.evidence, job.checks, job.settled)
            ),
        }
        base: list[dict[str, Any]] = [{"role": "system", "content": INTEGRATION_SYSTEM}, user]
        messages = base
        exchange: list[dict[str, Any]] = [user]
        options: LLMOptions = self.job_options(job)
        temperature, max_tokens = options.temperature, options.max_tokens
        problems: list[str] = []
        try:
            context = client.capabilities().context_size
            need = estimate_tokens(base)
            reply_room = max_tokens or client.endpoint.max_tokens or 0
            if context and need + reply_room > context:
                raise LLMError(
                    f"the prompt (about {need} tokens) and a reply of {reply_room} tokens do not fit the "
                    f"captioner model's context of {context} tokens"
                )
            for attempt in range(self.max_repairs + 1):
                reply = await client.chat(messages, temperature=temperature, max_tokens=max_tokens)
                assistant = {"role": "assistant", "content": reply.content or ""}
                exchange.append(assistant)
                caption, problems = check_reply(reply.content or "", media)
                if not problems:
                    notes = []
                    if options.strict_grounding:
                        caption, removed = strip_ungrounded(caption, job)
                        if removed:
                            notes.append(f"--strict-grounding removed {removed} ungrounded item(s) from the caption")
                    return CaptionOutput(
                        caption=caption,
                        markdown=render(caption, kind=media.kind),
                        trajectory=exchange,
                        notes=notes,
                        prompt_hash=digest,
                    )
                if attempt == self.max_repairs:
                    break
                repair = {
                    "role": "user",
                    "content": REPAIR_USER.format(
                        problems="\n".join(f"- {p}" for p in problems[:20]), end=format_time(media.duration)
                    ),
                }
                messages = [*base, assistant, repair]  # replaces the last repair: the prompt does not grow
                exchange.append(repair)
            note = (
                f"captioner model {client.model}: the caption was still invalid after {self.max_repairs} repair "
                f"request(s) ({'; '.join(problems[:3])}); the template caption was used instead"
            )
        except LLMError as exc:
            note = f"captioner model failed ({exc}); the template caption was used instead"
        caption = build_caption(media, job.evidence, job.checks, job.settled)
        return CaptionOutput(
            caption=caption,
            markdown=render(caption, kind=media.kind),
            trajectory=exchange,
            notes=[note],
            prompt_hash=digest,
        )


def strip_ungrounded(caption: Caption, job: CaptionJob) -> tuple[Caption, int]:
    """``caption`` without the storyline sentences, text items and transcript turns that make a claim no
    observation reports (``--strict-grounding``), and how many were removed."""
    removed = 0

    def grounded(text: str) -> bool:
        return not measure([text], job.evidence, job.media, job.checks, job.settled).ungrounded

    storyline = []
    for seg in caption.storyline:
        sentences = re.split(r"(?<=[.!?])\s+", seg.text.strip())
        kept = [s for s in sentences if grounded(s)]
        removed += len(sentences) - len(kept)
        if kept:
            storyline.append(seg.model_copy(update={"text": " ".join(kept)}))
    visible = None
    if caption.visible_text is not None:
        visible = []
        for group in caption.visible_text:
            elements = [e for e in group.elements if grounded(f"“{e.text}”")]
            removed += len(group.elements) - len(elements)
            if elements:
                visible.append(group.model_copy(update={"elements": elements}))
    transcript = [t for t in caption.transcript if grounded(f"“{t.content}”")]
    removed += len(caption.transcript) - len(transcript)
    update = {"storyline": storyline, "visible_text": visible, "transcript": transcript}
    return caption.model_copy(update=update), removed
