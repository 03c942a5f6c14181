"""Long clips in windows: LLM observers are asked about a long span window by window.

An audio model is asked about at most ``window_seconds`` (30 s by default, the upstream captioner model's own
guidance) of audio a request, and a vision model gets its frames from one window at a time, so an hour-long clip
is described window by window instead of from eight frames and one truncated upload. Local observers (shots,
OCR, ASR …) still examine the whole clip: only tools that ask a remote model questions are windowed.

Windows are cut where nobody speaks when the board knows the speech (the broad pass has run ASR over the whole
clip): a boundary that would fall inside a speech segment moves back to the segment's start, so no spoken sentence
is split between two requests; a window is never longer than ``window_seconds``.
"""

from __future__ import annotations

from collections.abc import Iterable

from detective.models import Evidence, MediaInfo, Query, TimeSpan
from detective.tools import Tool

#: A boundary moves back to a speech segment's start only while the window keeps this share of its length.
MIN_SHARE = 0.5


def window_spans(span: TimeSpan, window: float, speech: Iterable[TimeSpan] = ()) -> list[TimeSpan]:
    """``span`` cut into windows of at most ``window`` seconds, boundaries moved out of speech where possible."""
    if window <= 0 or span.duration <= window + 1e-6:
        return [span]
    talks = sorted((s for s in speech if s.end > span.start and s.start < span.end), key=lambda s: s.start)
    out: list[TimeSpan] = []
    cursor = span.start
    while span.end - cursor > window + 1e-6:
        cut = cursor + window
        inside = next((s for s in talks if s.start + 0.05 < cut < s.end - 0.05), None)
        if inside is not None and inside.start - cursor >= MIN_SHARE * window:
            cut = inside.start
        out.append(TimeSpan(start=round(cursor, 3), end=round(cut, 3)))
        cursor = cut
    out.append(TimeSpan(start=round(cursor, 3), end=round(span.end, 3)))
    return out


def windowed(tool: Tool) -> bool:
    """True for a tool whose queries are windowed: one that asks a remote model questions."""
    return bool(tool.needs_api and tool.asks_questions)


def window_queries(
    queries: list[Query], media: MediaInfo, tools: dict[str, Tool], evidence: Evidence, window: float
) -> list[Query]:
    """``queries`` with every windowed tool's query over more than ``window`` seconds split into one query per
    window (its ``start``/``end`` arguments, when it has them, set to the window's); others unchanged."""
    speech = [o.span for o in evidence.by_kind("speech") if o.span is not None]
    out: list[Query] = []
    for q in queries:
        tool = tools.get(q.tool)
        if tool is None or not windowed(tool) or window <= 0:
            out.append(q)
            continue
        start = q.arguments.get("start")
        end = q.arguments.get("end")
        begin = float(start) if start is not None else (q.span.start if q.span else 0.0)
        stop = float(end) if end is not None else (q.span.end if q.span else media.duration)
        stop = min(stop, media.duration)
        if stop - begin <= window + 1e-6:
            out.append(q)
            continue
        for w in window_spans(TimeSpan(start=begin, end=stop), window, speech):
            arguments = dict(q.arguments)
            if start is not None or end is not None:
                arguments.update(start=w.start, end=w.end)
            out.append(q.model_copy(update={"span": w, "arguments": arguments}))
    return out
