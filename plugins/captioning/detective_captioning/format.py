"""The canonical caption format: render a :class:`~detective.models.Caption` to Markdown and parse it back.

The format is the Omni-Captioner structured-description template (``## Storyline``, ``## Visible Text``,
``## Speakers and Transcript``, then free ``## <title>`` sections). :func:`render` writes exactly that;
:func:`parse` reads it back and also reads what models actually write: straight or curly quotes, ``HH:MM:SS.mmm``,
``MM:SS.mmm`` and ``MM:SS`` times, placeholder brackets kept around times, bold or numbered headings, bullets,
stray blank lines, missing optional sections. ``parse(render(c)) == c`` for every valid caption (times on whole
milliseconds, texts without leading or trailing blanks and without lines that look like headings or time spans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from detective.models import (
    Caption,
    CaptionSection,
    SpeakerProfile,
    StorylineSegment,
    TextElement,
    TimeSpan,
    TranscriptSegment,
    VisibleTextSpan,
    format_time,
)

STORYLINE = "Storyline"
VISIBLE_TEXT = "Visible Text"
TRANSCRIPT = "Speakers and Transcript"

NO_TEXT_SENTENCE = "No visible text appears in the video."
NO_SPEECH_SENTENCE = {
    "video": "No speech appears in the video.",
    "audio": "No speech appears in the audio.",
}

#: Seconds a span may run past the clip's end before :func:`validate` complains.
DURATION_TOLERANCE = 0.5

_OPEN_QUOTES = "“\"„«「『‘'"
_CLOSE_QUOTES = "”\"»」』’'"
_TIME = r"(?:\d{1,2}:)?\d{1,3}:\d{2}(?:[.,]\d{1,6})?"
_TIME_RE = re.compile(r"^(?:(\d{1,2}):)?(\d{1,3}):(\d{2})(?:[.,](\d{1,6}))?$")
_SPAN_RE = re.compile(
    r"^\s*(?:[-*•]\s+)?[*_\[(<\s]*"
    rf"(?P<a>{_TIME})\s*[>\])]?\s*(?:-|–|—|~|to)\s*[<\[(]?\s*(?P<b>{_TIME})"
    r"\s*[>\])*_]*\s*(?:[:：\-–—]\s*)?(?P<rest>.*)$",
    re.IGNORECASE,
)
_HEADING_RE = re.compile(r"^\s*(?P<hashes>#{1,6})\s*(?P<title>.*?)(?:\s+#+)?\s*$")
_BOLD_LINE_RE = re.compile(r"^\s*(?:\*\*|__)(?P<title>[^*_]+?)(?:\*\*|__)\s*:?\s*$")
_NUMBERING_RE = re.compile(r"^(?:\d+|[ivx]+)[.)]\s*", re.IGNORECASE)
_FIELD_RE = re.compile(
    r"^\s*(?:[-*•]\s+)?(?:\*\*|__)?(?P<name>speaker|state|content|speaking state|text|transcript|emotion|tone)"
    r"(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_PROFILES_RE = re.compile(r"^\s*(?:\*\*|__)?speaker profiles?(?:\*\*|__)?\s*[:：]?\s*(?:\*\*|__)?\s*$", re.I)
_INLINE_TURN_RE = re.compile(r"^\s*(?P<who>[^:“\"]{1,60}?)\s*[:：]\s*(?P<what>[“\"].*)$")


# --- times -----------------------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """A compact, readable clip time for prose: ``0:04.2`` (``1:02:03.5`` past an hour)."""
    return format_time(seconds, 1, pad=False)


def format_span(span: TimeSpan) -> str:
    """``<start> - <end>`` as the canonical span line."""
    return f"{format_time(span.start)} - {format_time(span.end)}"


def parse_time(text: str) -> float:
    """Seconds from ``HH:MM:SS.mmm``, ``MM:SS.mmm`` or ``MM:SS`` (a comma decimal is accepted)."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a timestamp: {text!r}")
    hours, minutes, secs, frac = match.groups()
    ms = round(int(frac) * 10 ** (3 - len(frac))) if frac else 0
    total_ms = ((int(hours or 0) * 60 + int(minutes)) * 60 + int(secs)) * 1000 + ms
    # Integer milliseconds divided once, so render→parse returns the very float a generator built the same way.
    return total_ms / 1000


# --- render ----------------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return f"“{text}”"


def render(caption: Caption, kind: str | None = None) -> str:
    """The caption as Markdown in the canonical structured-description format.

    ``kind`` ("video" or "audio") only words the default no-speech sentence; by default a caption with a Visible
    Text section is a video caption. ``caption.no_text`` and ``caption.no_speech`` replace the default sentences of
    empty sections (a captioner says there how text and speech were examined, or that they were not).
    """
    kind = kind or ("video" if caption.visible_text is not None else "audio")
    out: list[str] = [f"## {STORYLINE}"]
    for seg in caption.storyline:
        out.append(format_span(seg.span))
        out.append(seg.text)
    if caption.visible_text is not None:
        out.append("")
        out.append(f"## {VISIBLE_TEXT}")
        if not caption.visible_text:
            out.append(caption.no_text or NO_TEXT_SENTENCE)
        for group in caption.visible_text:
            out.append(format_span(group.span))
            for element in group.elements:
                out.append(f"{_quote(element.text)}: {element.appearance}".rstrip())
    out.append("")
    out.append(f"## {TRANSCRIPT}")
    if caption.speakers:
        out.append("Speaker profiles:")
        for speaker in caption.speakers:
            out.append(f"{speaker.name} - {speaker.profile}" if speaker.profile else speaker.name)
    if not caption.transcript:
        out.append(caption.no_speech or NO_SPEECH_SENTENCE.get(kind, NO_SPEECH_SENTENCE["video"]))
    for turn in caption.transcript:
        out.append(format_span(turn.span))
        out.append(f"Speaker: {turn.speaker}")
        out.append(f"State: {turn.state}".rstrip())
        out.append(f"Content: {_quote(turn.content)}")
    for section in caption.sections:
        out.append("")
        out.append(f"## {section.title}")
        if section.body:
            out.append(section.body)
    return "\n".join(out) + "\n"


# --- parse -----------------------------------------------------------------------------------------------


@dataclass
class ParsedCaption:
    """A parsed caption plus what the parser noticed: the required sections found and format problems."""

    caption: Caption
    found: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _canonical_section(title: str) -> str | None:
    """Which required section a heading names, or None for a free section."""
    name = _NUMBERING_RE.sub("", title.strip().strip("*_").strip()).strip().strip(":").strip("*_ ").lower()
    name = re.sub(r"\s+", " ", name.replace("&", "and"))
    if name in {"storyline", "story line", "chronological storyline", "timeline"} or name.startswith(
        "structured chronological storyline"
    ):
        return STORYLINE
    if name in {"visible text", "visible texts", "on-screen text", "on screen text", "onscreen text"} or (
        name.startswith("visible text") and len(name) < 40
    ):
        return VISIBLE_TEXT
    if name in {
        "speakers and transcript",
        "speakers and transcripts",
        "speaker and transcript",
        "transcript",
        "transcription",
        "speech transcript",
        "speech-to-text transcription",
        "speech to text transcription",
        "speakers",
    } or (name.startswith("speakers and transcript") and len(name) < 40):
        return TRANSCRIPT
    return None


def _heading(line: str) -> tuple[str, str | None] | None:
    """``(title, canonical name)`` when ``line`` is a section heading, else None."""
    match = _HEADING_RE.match(line)
    if match:
        level = len(match.group("hashes"))
        raw = match.group("title").strip()
        title = raw.strip("*_").strip() if raw.startswith(("**", "__")) else raw
        canonical = _canonical_section(title)
        if level <= 2 or canonical is not None:
            return (canonical or title, canonical)
        return None
    match = _BOLD_LINE_RE.match(line)
    if match:
        canonical = _canonical_section(match.group("title"))
        if canonical is not None:
            return (canonical, canonical)
    return None


def _span(line: str) -> tuple[float, float, str] | None:
    match = _SPAN_RE.match(line)
    if not match:
        return None
    try:
        start, end = parse_time(match.group("a").replace(",", ".")), parse_time(match.group("b").replace(",", "."))
    except ValueError:
        return None
    return start, end, match.group("rest").strip().strip("*_").strip()


def _make_span(start: float, end: float, where: str, problems: list[str]) -> TimeSpan:
    if end < start:
        problems.append(f"{where}: span {format_time(start)} - {format_time(end)} ends before it starts")
        start, end = end, start
    return TimeSpan(start=start, end=end)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPEN_QUOTES and text[-1] in _CLOSE_QUOTES:
        return text[1:-1]
    if text[:1] == "“" and "”" not in text:  # an opening quote the model never closed
        return text[1:]
    return text


def _trim(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(line.rstrip() for line in lines[start:end])


def _split_blocks(lines: list[str]) -> tuple[list[str], list[tuple[float, float, list[str]]]]:
    """Lines before the first span line, and ``(start, end, lines)`` per span line (the rest of a span line first)."""
    head: list[str] = []
    blocks: list[tuple[float, float, list[str]]] = []
    for line in lines:
        span = _span(line)
        if span is not None:
            start, end, rest = span
            blocks.append((start, end, [rest] if rest else []))
        elif blocks:
            blocks[-1][2].append(line)
        else:
            head.append(line)
    return head, blocks


def _parse_storyline(lines: list[str], problems: list[str]) -> list[StorylineSegment]:
    _, blocks = _split_blocks(lines)
    segments = []
    for i, (start, end, body) in enumerate(blocks):
        segments.append(
            StorylineSegment(span=_make_span(start, end, f"storyline segment {i + 1}", problems), text=_trim(body))
        )
    return segments


def _element(line: str) -> TextElement | None:
    text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line.strip())
    text = text.replace("**", "") if text.startswith("**") else text
    if not text:
        return None
    if text[0] in _OPEN_QUOTES:
        if text[0] == "“" and "”:" in text:
            cut = text.rfind("”:")
            return TextElement(text=text[1:cut], appearance=text[cut + 2 :].strip())
        match = re.match(r"^[“\"„«'‘](.*?)[”\"»'’]\s*[:：\-–—]\s*(.*)$", text)
        if match:
            return TextElement(text=match.group(1), appearance=match.group(2).strip())
        match = re.match(r"^[“\"„«'‘](.*)[”\"»'’]\s*$", text)
        if match:
            return TextElement(text=match.group(1), appearance="")
        match = re.match(r"^[“\"„«'‘]([^”\"]*)[”\"]\s*(?:\(([^)]*)\)|,\s*(.*))?$", text)
        if match:
            return TextElement(text=match.group(1), appearance=(match.group(2) or match.group(3) or "").strip())
        return TextElement(text=text[1:].rstrip('”"'), appearance="")
    if ": " in text:
        element, appearance = text.split(": ", 1)
        return TextElement(text=element.strip(), appearance=appearance.strip())
    return None


def _parse_visible_text(lines: list[str], problems: list[str]) -> list[VisibleTextSpan]:
    _, blocks = _split_blocks(lines)
    groups = []
    for i, (start, end, body) in enumerate(blocks):
        elements = [e for e in (_element(line) for line in body if line.strip()) if e is not None]
        groups.append(
            VisibleTextSpan(span=_make_span(start, end, f"visible text group {i + 1}", problems), elements=elements)
        )
    return groups


def _parse_profiles(lines: list[str]) -> list[SpeakerProfile]:
    speakers: list[SpeakerProfile] = []
    in_profiles = False
    for line in lines:
        if _PROFILES_RE.match(line):
            in_profiles = True
            continue
        stripped = re.sub(r"^\s*[-*•]\s+", "", line).strip()
        if not in_profiles or not stripped:
            continue
        stripped = stripped.replace("**", "")
        match = re.match(r"^(?P<name>.+?)\s+[-–—]\s*(?P<profile>.*)$", stripped) or re.match(
            r"^(?P<name>[^:]{1,60}?)\s*:\s+(?P<profile>.*)$", stripped
        )
        if match:
            speakers.append(SpeakerProfile(name=match.group("name").strip(), profile=match.group("profile").strip()))
        elif not stripped.lower().startswith("no ") and len(stripped) <= 60:
            speakers.append(SpeakerProfile(name=stripped))
    return speakers


def _parse_turn(body: list[str]) -> tuple[str, str, str]:
    fields: dict[str, list[str]] = {}
    current: str | None = None
    loose: list[str] = []
    for line in body:
        if not line.strip():
            continue
        match = _FIELD_RE.match(line)
        if match:
            name = match.group("name").lower()
            current = {"speaking state": "state", "emotion": "state", "tone": "state"}.get(name, name)
            current = {"text": "content", "transcript": "content"}.get(current, current)
            fields.setdefault(current, []).append(match.group("value").strip())
        elif current is not None:
            fields[current].append(line.strip())
        else:
            loose.append(line.strip())
    speaker = " ".join(fields.get("speaker", [])).strip()
    state = " ".join(fields.get("state", [])).strip()
    content_lines = fields.get("content")
    if content_lines is None and loose:
        inline = _INLINE_TURN_RE.match(loose[0])
        if inline and not speaker:
            speaker = inline.group("who").strip().strip("*_")
            loose[0] = inline.group("what")
        content_lines = loose
    content = _unquote("\n".join(content_lines or []).strip())
    return speaker.strip("*_ ") or "Unknown", state, content


def _parse_transcript(lines: list[str], problems: list[str]) -> tuple[list[SpeakerProfile], list[TranscriptSegment]]:
    head, blocks = _split_blocks(lines)
    speakers = _parse_profiles(head)
    turns = []
    for i, (start, end, body) in enumerate(blocks):
        speaker, state, content = _parse_turn(body)
        turns.append(
            TranscriptSegment(
                span=_make_span(start, end, f"transcript turn {i + 1}", problems),
                speaker=speaker,
                state=state,
                content=content,
            )
        )
    return speakers, turns


def _statement(lines: list[str], defaults: set[str]) -> str | None:
    """What an empty section says (lines before any speaker profiles), unless it is the default sentence."""
    said = []
    for line in lines:
        if _PROFILES_RE.match(line):
            break
        if line.strip():
            said.append(line.strip())
    text = " ".join(said)
    return text if text and text not in defaults else None


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    match = re.match(r"^```[a-zA-Z]*\s*\n(.*)\n```\s*$", stripped, re.DOTALL)
    return match.group(1) if match else text


def parse_report(text: str) -> ParsedCaption:
    """Parse a caption and report which required sections were present and any format problems."""
    lines = _strip_fence(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    preamble: list[str] = []
    sections: list[tuple[str, str | None, list[str]]] = []
    for line in lines:
        heading = _heading(line)
        if heading is not None:
            sections.append((heading[0], heading[1], []))
        elif sections:
            sections[-1][2].append(line)
        else:
            preamble.append(line)
    problems: list[str] = []
    found: set[str] = set()
    storyline: list[StorylineSegment] = []
    visible: list[VisibleTextSpan] | None = None
    speakers: list[SpeakerProfile] = []
    transcript: list[TranscriptSegment] = []
    extra: list[CaptionSection] = []
    no_text: str | None = None
    no_speech: str | None = None
    for title, canonical, body in sections:
        if canonical == STORYLINE:
            storyline.extend(_parse_storyline(body, problems))
        elif canonical == VISIBLE_TEXT:
            groups = _parse_visible_text(body, problems)
            visible = (visible or []) + groups
            if not groups:
                no_text = _statement(body, {NO_TEXT_SENTENCE}) or no_text
        elif canonical == TRANSCRIPT:
            more_speakers, more_turns = _parse_transcript(body, problems)
            speakers.extend(more_speakers)
            transcript.extend(more_turns)
            if not more_turns:
                no_speech = _statement(body, set(NO_SPEECH_SENTENCE.values())) or no_speech
        else:
            extra.append(CaptionSection(title=title, body=_trim(body)))
        if canonical:
            found.add(canonical)
    if STORYLINE not in found and any(_span(line) for line in preamble):
        # A reply with time spans but no headings (e.g. one chunk of a captioner model) is a bare storyline.
        storyline = _parse_storyline(preamble, problems)
        found.add(STORYLINE)
    caption = Caption(
        storyline=storyline,
        visible_text=visible,
        speakers=speakers,
        transcript=transcript,
        sections=extra,
        no_text=no_text,
        no_speech=no_speech,
    )
    return ParsedCaption(caption=caption, found=found, problems=problems)


def parse(text: str) -> Caption:
    """The :class:`~detective.models.Caption` in ``text`` (see the module docstring for what is tolerated)."""
    return parse_report(text).caption


# --- validate --------------------------------------------------------------------------------------------


def validate(caption: Caption, duration: float | None, tolerance: float = DURATION_TOLERANCE) -> list[str]:
    """Problems with the caption's times: spans out of order, reversed, or past the clip's end.

    An empty list means the caption is valid. ``duration`` None skips the end-of-clip check.
    """
    problems: list[str] = []

    def check(label: str, spans: list[TimeSpan]) -> None:
        previous: TimeSpan | None = None
        for i, span in enumerate(spans, 1):
            where = f"{label} {i} ({format_span(span)})"
            if span.end < span.start:
                problems.append(f"{where} ends before it starts")
            if duration is not None and span.end > duration + tolerance:
                problems.append(f"{where} runs past the end of the clip at {format_time(duration)}")
            if duration is not None and span.start > duration + tolerance:
                problems.append(f"{where} starts after the end of the clip at {format_time(duration)}")
            if previous is not None and span.start < previous.start - 1e-9:
                problems.append(f"{where} starts before the previous one ({format_span(previous)}): out of order")
            previous = span

    check("storyline segment", [s.span for s in caption.storyline])
    check("visible text group", [g.span for g in caption.visible_text or []])
    check("transcript turn", [t.span for t in caption.transcript])
    return problems
