"""Minimal built-in captioners. The bundled captioning plugin adds the structured ``template``, ``llm`` and
``direct`` captioners; these two keep the core useful without it.

- ``evidence``: offline; lists the evidence board in time order (not the canonical caption format).
- ``chat``: upstream's integration step; one more call in the Detective's own conversation writes the caption.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from detective.agent.prompts import CLOSING, FINAL_CAPTION_SYSTEM, medium_words, prompt_hash
from detective.captioning import Captioner, CaptionerOptions, CaptionJob, CaptionOutput
from detective.evidence.digest import CHAT, board_digest, digest
from detective.hookspecs import hookimpl
from detective.models import Caption, CaptionSection
from detective.runtime import current_services


class EvidenceCaptioner(Captioner):
    """Writes the evidence board as a time-ordered list: what the core can say without the captioning plugin."""

    name: ClassVar[str] = "evidence"
    options_model: ClassVar[type[CaptionerOptions] | None] = CaptionerOptions  # none

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """List every observation with its time, tool and content."""
        body = board_digest(job.evidence, limit=10_000, width=10_000)
        caption = Caption(sections=[CaptionSection(title="Evidence", body=body)])
        return CaptionOutput(caption=caption, markdown=f"## Evidence\n{body}\n")


class ChatCaptioner(Captioner):
    """Upstream's final step: the conversation so far (or the evidence) goes to the model, its reply is the caption."""

    name: ClassVar[str] = "chat"
    needs_api: ClassVar[bool] = True
    options_model: ClassVar[type[CaptionerOptions] | None] = CaptionerOptions  # none

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """One call; the reply's text is the caption."""
        words = medium_words(job.media.has_video)
        if job.trajectory and job.trajectory[-1].get("role") == "user":
            messages = list(job.trajectory)
            added: list[dict[str, Any]] = []
        else:
            messages = [
                {"role": "system", "content": FINAL_CAPTION_SYSTEM.format(**words)},
                {
                    "role": "user",
                    "content": "Evidence:\n```\n" + digest(job.evidence, CHAT) + "\n```\n" + CLOSING.format(**words),
                },
            ]
            added = list(messages)
        reply = await current_services().llm("captioner").chat(messages, temperature=0.0)
        text = reply.content or ""
        added.append({"role": "assistant", "content": text})
        markdown = text
        if text.startswith('"') and text.endswith('"'):
            try:  # upstream stored the final caption as a JSON-encoded string
                markdown = json.loads(text)
            except json.JSONDecodeError:
                markdown = text
        caption = Caption(sections=[CaptionSection(title="Description", body=markdown.strip())])
        return CaptionOutput(
            caption=caption, markdown=markdown, trajectory=added, prompt_hash=prompt_hash(FINAL_CAPTION_SYSTEM, CLOSING)
        )


@hookimpl
def register_captioners(register: Any) -> None:
    """Register ``evidence`` and ``chat``."""
    register("evidence", EvidenceCaptioner)
    register("chat", ChatCaptioner)
