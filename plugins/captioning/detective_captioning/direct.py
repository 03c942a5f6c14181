"""The direct captioner: one omni model captions the raw media, without the Detective's evidence.

Two modes, chosen by the ``direct`` role's model:

- an omni chat model (Qwen3.5-Omni, qwen3-omni-flash …) gets the seed's recommended structured-description prompt
  with the audio (``input_audio``) or the video (``video_url``) in one call;
- a captioner model (its name contains "captioner", e.g. Qwen3-Omni-30B-A3B-Captioner, or option
  ``no_prompt=True``) accepts one audio input and no text at all, and is best at ≤ 30 s: the audio is cut into
  chunks of at most 30 s, each captioned alone, and the chunk captions are stitched with their times shifted by the
  chunk's start.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
from typing import Any, ClassVar

from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.models import (
    Caption,
    CaptionSection,
    MediaInfo,
    SpeakerProfile,
    StorylineSegment,
    TimeSpan,
    TranscriptSegment,
)
from detective.runtime import current_services
from detective_captioning.format import format_span, parse_report, render, validate
from detective_captioning.options import DirectOptions
from detective_captioning.prompts import AUDIO_PROMPT, AUDIO_VIDEO_PROMPT, prompt_hash

#: Sampling the Qwen3-Omni-Captioner cookbook uses.
CAPTIONER_SAMPLING: dict[str, Any] = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_tokens": 8192}
#: The transcript line of a stitched caption whose chunks only describe speech in prose.
PROSE_ONLY = "The captioner model gives no separate transcript; any speech is described in the storyline."


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _local_path(media: MediaInfo) -> str | None:
    if media.path:
        return media.path
    if not _is_url(media.source) and os.path.exists(media.source):
        return media.source
    return None


def _audio_part(data: str, fmt: str = "wav") -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def _wav_data_url(path: str, start: float | None = None, end: float | None = None) -> str:
    from detective.media import wav_bytes, wav_data_url

    url = wav_data_url(path, start, end, sr=16000)
    return url if url is not None else "data:audio/wav;base64," + base64.b64encode(wav_bytes([], sr=16000)).decode()


def _video_data_url(path: str) -> str:
    mime = mimetypes.guess_type(path)[0] or "video/mp4"
    if not mime.startswith("video/"):
        mime = "video/mp4"
    with open(path, "rb") as fh:
        return f"data:{mime};base64," + base64.b64encode(fh.read()).decode("ascii")


def _for_trajectory(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message content with inline media replaced by a short note (trajectories stay small and readable)."""
    out = []
    for part in content:
        if part.get("type") == "input_audio":
            data = part["input_audio"]["data"]
            if data.startswith("data:"):
                data = f"<{len(data)} characters of base64 {data[5 : data.find(';')]} omitted>"
            out.append({"type": "input_audio", "input_audio": {**part["input_audio"], "data": data}})
        elif part.get("type") == "video_url":
            url = part["video_url"]["url"]
            if url.startswith("data:"):
                url = f"<{len(url)} characters of base64 {url[5 : url.find(';')]} omitted>"
            out.append({"type": "video_url", "video_url": {"url": url}})
        else:
            out.append(part)
    return out


def _shift(span: TimeSpan, offset: float, limit: TimeSpan) -> TimeSpan:
    start = min(max(limit.start, span.start + offset), limit.end)
    end = min(max(start, span.end + offset), limit.end)
    return TimeSpan(start=round(start, 3), end=round(end, 3))


def stitch(chunks: list[TimeSpan], replies: list[str]) -> tuple[Caption, bool]:
    """One caption from per-chunk replies: times shifted by each chunk's start (clamped to the chunk); a reply
    without timestamps becomes one storyline segment over its chunk. Returns the caption and whether any chunk
    gave a transcript."""
    storyline: list[StorylineSegment] = []
    transcript: list[TranscriptSegment] = []
    speakers: dict[str, SpeakerProfile] = {}
    sections: list[CaptionSection] = []
    any_transcript = False
    for raw, reply in zip(chunks, replies, strict=True):
        # Whole milliseconds, like every parsed time, so the stitched caption survives render → parse.
        chunk = TimeSpan(start=round(raw.start, 3), end=round(raw.end, 3))
        parsed = parse_report(reply).caption
        if parsed.storyline:
            storyline += [
                StorylineSegment(span=_shift(s.span, chunk.start, chunk), text=s.text) for s in parsed.storyline
            ]
        elif reply.strip():
            storyline.append(StorylineSegment(span=chunk, text=reply.strip()))
        if parsed.transcript:
            any_transcript = True
            transcript += [t.model_copy(update={"span": _shift(t.span, chunk.start, chunk)}) for t in parsed.transcript]
        for speaker in parsed.speakers:
            speakers.setdefault(speaker.name, speaker)
        sections += [CaptionSection(title=f"{s.title} ({format_span(chunk)})", body=s.body) for s in parsed.sections]
    caption = Caption(
        storyline=storyline,
        visible_text=None,
        speakers=list(speakers.values()),
        transcript=transcript,
        sections=sections,
    )
    return caption, any_transcript


class DirectCaptioner(Captioner):
    """Captions the raw media with one omni model (role ``direct``); ignores the evidence."""

    name = "direct"
    needs_api = True
    options_model = DirectOptions
    role: ClassVar[str] = "direct"

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """Caption ``job.media`` directly (see the module docstring for the two modes)."""
        client = current_services().llm(self.role)
        if self.job_options(job).no_prompt or "captioner" in client.model.lower():
            return await self._captioner(job, client)
        return await self._prompted(job, client)

    async def _prompted(self, job: CaptionJob, client: Any) -> CaptionOutput:
        media = job.media
        path = _local_path(media)
        if media.has_video:
            prompt = AUDIO_VIDEO_PROMPT
            url = (
                media.source
                if _is_url(media.source) or path is None
                else await asyncio.to_thread(_video_data_url, path)
            )
            part: dict[str, Any] = {"type": "video_url", "video_url": {"url": url}}
        elif media.has_audio:
            prompt = AUDIO_PROMPT
            if path is not None:
                part = _audio_part(await asyncio.to_thread(_wav_data_url, path))
            else:
                ext = os.path.splitext(media.source.split("?")[0])[1].lstrip(".").lower() or "wav"
                part = _audio_part(media.source, ext)
        else:
            raise ValueError(f"{media.source}: the direct captioner needs an audio or video stream")
        content = [part, {"type": "text", "text": prompt}]
        reply = await client.chat(
            [{"role": "user", "content": content}],
            temperature=self.job_options(job).temperature,
            max_tokens=self.job_options(job).max_tokens,
        )
        text = reply.content or ""
        report = parse_report(text)
        caption, notes = report.caption, list(report.problems)
        if not caption.storyline:
            whole = StorylineSegment(span=TimeSpan(start=0.0, end=media.duration), text=text.strip())
            caption = caption.model_copy(update={"storyline": [whole]})
            notes.append(f"direct model {client.model}: the reply had no timed storyline; kept as one segment")
        if not media.has_video:
            caption = caption.model_copy(update={"visible_text": None})
        notes += [f"direct model {client.model}: {p}" for p in validate(caption, media.duration)]
        return CaptionOutput(
            caption=caption,
            markdown=render(caption, kind=media.kind),
            trajectory=[
                {"role": "user", "content": _for_trajectory(content)},
                {"role": "assistant", "content": text},
            ],
            notes=notes,
            prompt_hash=prompt_hash(prompt),
        )

    async def _captioner(self, job: CaptionJob, client: Any) -> CaptionOutput:
        media = job.media
        if not media.has_audio:
            raise ValueError(
                f"{media.source}: the captioner model {client.model} hears audio only, and this clip has none"
            )
        max_seconds = self.job_options(job).chunk_seconds
        path = _local_path(media)
        if path is None:
            if media.duration > max_seconds:
                raise ValueError(
                    f"{media.source}: audio longer than {max_seconds:.0f} s must be chunked, which needs a local "
                    "copy (open the clip with detective.media.open_media)"
                )
            chunks = [TimeSpan(start=0.0, end=media.duration)]
            parts = [_audio_part(media.source, os.path.splitext(media.source)[1].lstrip(".") or "wav")]
        else:
            from detective.media import audio_chunks

            chunks = audio_chunks(media.duration, max_seconds) or [TimeSpan(start=0.0, end=media.duration)]
            urls = await asyncio.gather(*(asyncio.to_thread(_wav_data_url, path, c.start, c.end) for c in chunks))
            parts = [_audio_part(url) for url in urls]
        sampling = dict(CAPTIONER_SAMPLING)
        extra = {"top_p": sampling.pop("top_p"), "top_k": sampling.pop("top_k")}
        replies = await asyncio.gather(
            *(
                client.chat(
                    [{"role": "user", "content": [part]}],
                    temperature=sampling["temperature"],
                    max_tokens=sampling["max_tokens"],
                    extra_body=extra,
                )
                for part in parts
            )
        )
        texts = [r.content or "" for r in replies]
        caption, any_transcript = stitch(chunks, texts)
        if not any_transcript:
            caption = caption.model_copy(update={"no_speech": PROSE_ONLY})
        notes = [f"direct model {client.model}: {p}" for p in validate(caption, media.duration)]
        if media.has_video:
            notes.append(f"direct model {client.model} hears audio only: the caption says nothing about the picture")
        trajectory: list[dict[str, Any]] = []
        for chunk, part, text in zip(chunks, parts, texts, strict=True):
            label = f"chunk {format_span(chunk)}"
            trajectory.append({"role": "user", "content": _for_trajectory([part]), "name": label})
            trajectory.append({"role": "assistant", "content": text})
        return CaptionOutput(
            caption=caption,
            markdown=render(caption, kind="audio"),
            trajectory=trajectory,
            notes=notes,
            prompt_hash=None,
        )
