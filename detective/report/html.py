"""The run report: one self-contained HTML page per clip, from a batch output record or a RunResult JSON.

The page needs nothing from the network (inline CSS, SVG and one small inline script, no font download) and shows:

- a **player** (``<video>``, or ``<audio>`` for a sound file) of the clip, when the clip is at hand: clicking a
  storyline sentence or a timeline item seeks it to that moment;

- a **timeline**: SVG lanes on one time axis for shots, speech (coloured by speaker), on-screen text, sound events,
  LLM descriptions, contradictions and the caption's storyline spans. Every drawn item is a ``<rect>`` with the
  class ``item item-<lane>`` (e.g. ``item-shot``) and a ``<title>`` holding what was observed;
- the **rounds**: what the planner planned, each query run, each observation and each contradiction per round;
- the **caption**: each storyline sentence lists, on click, every source behind it, the repairs that changed what
  it quotes among them; the **usage** (calls, tokens, seconds, cost) and the **provenance** (versions, tools, models).

Pages are Jinja2 templates (package data under ``detective/templates/report``, autoescaped: every value a record
holds is text, never markup); the caption's Markdown goes through markdown-it-py without raw HTML or images.

Records are read as :mod:`detective.agent.batch` writes them, through the typed
:class:`~detective.jobs.record.CaptionRecord` (records with a ``record_version``); older batch records (the input
fields plus ``caption``, ``caption_struct``, ``omni_detective_trajectory``, ``evidence``, ``usage``,
``provenance``, ``stop_reason``) and what ``omni-detective caption --json`` prints (a
:class:`~detective.models.RunResult`) are read as they are.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detective.jobs.jsonl import MAX_LINE_BYTES, RecordError, iter_records, parse_record
from detective.jobs.record import CaptionRecord
from detective.models import Caption, Evidence, Observation, Relation, RoundRecord, TimeSpan, format_time

if TYPE_CHECKING:  # imported where used: `omni-detective --help` should not pay for them
    import jinja2
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token

#: Timeline lanes in drawing order: (lane id, title, observation kind or None for derived lanes).
LANES: tuple[tuple[str, str], ...] = (
    ("storyline", "Storyline"),
    ("shot", "Shots"),
    ("speech", "Speech"),
    ("text", "On-screen text"),
    ("sound_event", "Sound events"),
    ("description", "Descriptions"),
    ("contradiction", "Contradictions"),
)
#: Observation kinds drawn on the timeline (each in the lane of the same name).
TIMELINE_KINDS = ("shot", "speech", "text", "sound_event", "description")

_SPEAKER_COLOURS = ("#2f6fdf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#e67700")
_SOUND_COLOURS = {
    "silence": "#ced4da",
    "speech-like": "#74c0fc",
    "tone": "#ffa94d",
    "broadband noise": "#a9a9a9",
    "music-like": "#b197fc",
    "sound": "#63e6be",
}
_CAPTION_FIELDS = ("caption", "predicted_caption")


class ReportError(ValueError):
    """A report cannot be made: the message names the file or record and what is wrong with it."""


@dataclass
class ClipReport:
    """One clip's run, normalised from either record shape."""

    clip_id: str
    source: str
    duration: float
    caption_markdown: str
    caption: Caption
    evidence: Evidence
    rounds: list[RoundRecord]
    trajectory: list[dict[str, Any]]
    usage: dict[str, Any]
    provenance: dict[str, Any]
    stop_reason: str
    notes: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    grounding: dict[str, Any] = field(default_factory=dict)

    def timeline_items(self) -> dict[str, list[tuple[TimeSpan, str, str]]]:
        """Per lane, the items drawn: ``(span, label, tooltip)``. Observations without a span are not drawn."""
        lanes: dict[str, list[tuple[TimeSpan, str, str]]] = {lane: [] for lane, _ in LANES}
        for seg in self.caption.storyline:
            lanes["storyline"].append((seg.span, seg.text, f"storyline · {_fmt_span(seg.span)}\n{seg.text}"))
        for obs in sorted(self.evidence.observations, key=lambda o: (o.span.start if o.span else -1.0, o.tool)):
            if obs.kind not in TIMELINE_KINDS or obs.span is None:
                continue
            label = obs.content
            if obs.kind == "speech":
                label = f"{self.speaker_of(obs)}: {obs.content}"
            tip = f"{obs.tool} · {obs.kind} · {_fmt_span(obs.span)}"
            if obs.confidence is not None:
                tip += f" · confidence {obs.confidence:.2f}"
            lanes[obs.kind].append((obs.span, label, f"{tip}\n{label}"))
        for rel in self.evidence.contradictions:
            if rel.span is None:
                continue
            text = f"{rel.tools[0]}: “{rel.a_says}” vs {rel.tools[1]}: “{rel.b_says}”"
            lanes["contradiction"].append((rel.span, text, f"contradiction · {_fmt_span(rel.span)}\n{text}"))
        return lanes

    def speaker_of(self, obs: Observation) -> str:
        """The speaker of a speech observation: the ASR's voice split, else the caption's transcript turn."""
        if obs.kind == "speech" and obs.payload.speaker:
            return obs.payload.speaker
        if obs.span is not None:
            best = max(self.caption.transcript, key=lambda t: t.span.overlap(obs.span), default=None)  # type: ignore[arg-type]
            if best is not None and best.span.overlap(obs.span) > 0:
                return best.speaker
        return "unknown speaker"


# --- reading ----------------------------------------------------------------------------------------------


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSONL file, or the one object of a JSON file (``omni-detective caption --json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if not text.strip():
        raise ReportError(f"{path}: the file is empty; pass the output JSONL of `omni-detective run`")
    text = text.removeprefix("\ufeff")
    try:
        whole = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # JSONL, or a hostile file: read line by line below
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list):
        return [r for r in whole if isinstance(r, dict)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            raise ReportError(f"{path}:{number}: line longer than {MAX_LINE_BYTES:,} bytes")
        try:
            record = parse_record(line)
        except RecordError as exc:
            if exc.not_object:
                continue  # not a record: nothing to show
            raise ReportError(f"{path}:{number}: not a JSON line ({exc})") from exc
        records.append(record)
    return records


def record_id(record: dict[str, Any]) -> str:
    """A short name for a record: its ``id``, ``uuid``, else the media's file name."""
    for name in ("id", "uuid"):
        if record.get(name) not in (None, ""):
            return str(record[name])
    source = _record_source(record)
    return Path(source).name if source else "clip"


def select(records: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The record whose id, uuid, resume key, source or file name is ``wanted``."""
    for record in records:
        prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
        names = {record_id(record), str(prov.get("record_key", "")), _record_source(record)}
        names.add(Path(_record_source(record)).name)
        if wanted in names:
            return record
    known = ", ".join(record_id(r) for r in records[:20]) or "none"
    raise ReportError(f"no record with id {wanted!r} (records: {known})")


def _record_source(record: dict[str, Any]) -> str:
    media = record.get("media")
    if isinstance(media, dict) and media.get("source"):
        return str(media["source"])
    for name in ("path", "video_path", "audio_path", "url"):
        if record.get(name):
            return str(record[name])
    return ""


def _from_typed(record: dict[str, Any], name: str) -> ClipReport:
    """A :class:`ClipReport` from a versioned batch record, read through :class:`CaptionRecord`."""
    field = next((f for f in _CAPTION_FIELDS if isinstance(record.get(f), str)), None)
    if field is None:
        field = next((k for k, v in record.items() if k.endswith("caption") and isinstance(v, str)), "caption")
    try:
        typed = CaptionRecord.from_json(record, field)
    except ValueError as exc:
        raise ReportError(f"record {name!r} is not a Detective run record: {exc}") from exc
    report = ClipReport(
        clip_id=name,
        source=typed.media.source,
        duration=0.0,
        caption_markdown=typed.caption,
        caption=typed.caption_struct,
        evidence=typed.evidence,
        rounds=typed.rounds,
        trajectory=list(typed.omni_detective_trajectory),
        usage=typed.usage.model_dump(exclude_none=True),
        provenance=typed.provenance.model_dump(mode="json"),
        stop_reason=typed.stop_reason,
        notes=list(typed.notes),
        media=typed.media.model_dump(mode="json"),
        extra=typed.input_fields,
        grounding=typed.grounding.model_dump(mode="json") if typed.grounding else {},
    )
    report.duration = _duration(report)
    return report


def normalise(record: dict[str, Any]) -> ClipReport:
    """A :class:`ClipReport` from a batch output record or a RunResult dump."""
    name = record_id(record)
    if "error" in record and "evidence" not in record:
        raise ReportError(f"record {name!r} failed and has no run to report: {record['error']}")
    if "record_version" in record:
        return _from_typed(record, name)
    is_result = isinstance(record.get("media"), dict) and "caption_markdown" in record
    try:
        if is_result:
            markdown = record["caption_markdown"]
            struct = record.get("caption") or {}
            trajectory = record.get("trajectory") or []
        else:
            markdown = next((record[f] for f in _CAPTION_FIELDS if isinstance(record.get(f), str)), None)
            if markdown is None:
                markdown = next((v for k, v in record.items() if k.endswith("caption") and isinstance(v, str)), "")
            struct = record.get("caption_struct") or {}
            trajectory = record.get("omni_detective_trajectory") or []
        caption = Caption.model_validate(struct)
        evidence = Evidence.model_validate(record.get("evidence") or {})
        rounds = [RoundRecord.model_validate(r) for r in record.get("rounds") or []]
    except (ValueError, TypeError) as exc:
        raise ReportError(f"record {name!r} is not a Detective run record: {exc}") from exc
    media = record.get("media") if is_result else {}
    added = {
        "caption_struct",
        "omni_detective_trajectory",
        "evidence",
        "usage",
        "provenance",
        "stop_reason",
        "grounding",
    }
    extra = {
        k: v
        for k, v in record.items()
        if not is_result and k not in added and k not in _CAPTION_FIELDS and k not in {"notes", "rounds"}
    }
    report = ClipReport(
        clip_id=name,
        source=_record_source(record),
        duration=0.0,
        caption_markdown=str(markdown),
        caption=caption,
        evidence=evidence,
        rounds=rounds,
        trajectory=list(trajectory),
        usage=dict(record.get("usage") or {}),
        provenance=dict(record.get("provenance") or {}),
        stop_reason=str(record.get("stop_reason") or ""),
        notes=[str(n) for n in record.get("notes") or []],
        media=dict(media or {}),
        extra=extra,
        grounding=dict(record.get("grounding") or {}),
    )
    report.duration = _duration(report)
    return report


def _duration(report: ClipReport) -> float:
    """The clip's duration, else the latest time anything was observed or captioned (batch records lack media)."""
    if report.media.get("duration"):
        return float(report.media["duration"])
    ends = [o.span.end for o in report.evidence.observations if o.span is not None]
    ends += [s.span.end for s in report.caption.storyline]
    return max(ends, default=0.0)


# --- rounds -----------------------------------------------------------------------------------------------


@dataclass
class RoundView:
    """What the report shows of one round."""

    number: int
    planned: list[str]
    ran: list[str]
    observations: list[Observation]
    contradictions: list[Relation]
    failures: list[str]
    note: str = ""


def rounds_view(report: ClipReport) -> list[RoundView]:
    """Per round: plan, queries, observations, contradictions and failures (from ``rounds`` or reconstructed)."""
    by_round: dict[int, list[Observation]] = {}
    round_of_key: dict[str, int] = {}
    for obs in report.evidence.observations:
        number = obs.round or 0
        by_round.setdefault(number, []).append(obs)
        round_of_key[obs.key] = number
    contradictions: dict[int, list[Relation]] = {}
    for rel in report.evidence.contradictions:
        number = max(round_of_key.get(rel.a, 0), round_of_key.get(rel.b, 0))
        contradictions.setdefault(number, []).append(rel)
    failures: dict[int, list[str]] = {}
    for fail in report.evidence.failures:
        failures.setdefault(fail.round or 0, []).append(f"{fail.tool}: {fail.error}")
    planned: dict[int, list[str]] = {
        r.round: [_describe_query(q.model_dump()) for q in r.planned] for r in report.rounds
    }
    ran: dict[int, list[str]] = {r.round: [_describe_query(q.model_dump()) for q in r.ran] for r in report.rounds}
    notes = {r.round: r.note for r in report.rounds}
    if not report.rounds:
        for number, calls in enumerate(_planned_from_trajectory(report.trajectory), start=1):
            planned[number] = calls
    numbers = sorted(set(by_round) | set(planned) | set(ran) | set(contradictions) | set(failures))
    return [
        RoundView(
            number=n,
            planned=planned.get(n, []),
            ran=ran.get(n, []),
            observations=sorted(by_round.get(n, []), key=lambda o: (o.tool, o.span.start if o.span else -1.0)),
            contradictions=contradictions.get(n, []),
            failures=failures.get(n, []),
            note=notes.get(n, ""),
        )
        for n in numbers
    ]


def _describe_query(query: dict[str, Any]) -> str:
    parts = [str(query.get("tool") or query.get("tool_name") or "?")]
    span = query.get("span")
    if isinstance(span, dict) and "start" in span:
        parts.append(f"[{format_time(float(span['start']))} – {format_time(float(span['end']))}]")
    elif query.get("start") is not None or query.get("end") is not None:
        parts.append(f"[{query.get('start')} – {query.get('end')}]")
    if query.get("question"):
        parts.append(f"“{query['question']}”")
    args = {k: v for k, v in (query.get("arguments") or {}).items() if k not in {"question", "start", "end"}}
    if args:
        parts.append(json.dumps(args, ensure_ascii=False))
    if query.get("reason"):
        parts.append(f"(because {query['reason']})")
    return " ".join(parts)


def _planned_from_trajectory(trajectory: list[dict[str, Any]]) -> list[list[str]]:
    """The planner's tool calls per assistant turn (function calling) or JSON reply (upstream form)."""
    turns: list[list[str]] = []
    for message in trajectory:
        if message.get("role") != "assistant":
            continue
        calls = []
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except json.JSONDecodeError:
                args = {"arguments": fn.get("arguments")}
            calls.append(_describe_query({"tool": fn.get("name"), **(args if isinstance(args, dict) else {})}))
        if not calls and isinstance(message.get("content"), str):
            match = re.search(r"\{[^{}]*\"tool_name\"[^{}]*\}", message["content"])
            if match:
                with contextlib.suppress(json.JSONDecodeError):
                    calls.append(_describe_query(json.loads(match.group(0))))
        if calls:
            turns.append(calls)
    return turns


# --- rendering --------------------------------------------------------------------------------------------

_LANE_COLOURS = {
    "storyline": "#5b4bd6",
    "shot": "#495057",
    "text": "#f08c00",
    "description": "#1098ad",
    "contradiction": "#e03131",
}
_LEFT = 170  # room for the longest lane title with its count ("On-screen text (12)") left of the bars
_RIGHT = 36  # room for the last tick's label, centred on the last second
_WIDTH = 1300  # the viewBox width: the drawing scales to the width of the page (width 100%)
_ROW = 22
_GAP = 10
#: Caption lines that are a span: ``MM:SS.mmm - MM:SS.mmm`` (or with hours).
_SPAN_LINE = re.compile(r"^\s*(\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s*-\s*(\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s*$")


def _fmt_span(span: TimeSpan | None) -> str:
    return f"{format_time(span.start)} – {format_time(span.end)}" if span is not None else "whole clip"


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "—"
    return "—" if value in (None, "") else str(value)


@functools.cache
def _templates() -> jinja2.Environment:
    """The report's Jinja2 templates (package data under ``detective/templates/report``), autoescaped."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("detective", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plain"] = _plain
    env.filters["span"] = _fmt_span
    return env


# --- timeline layout --------------------------------------------------------------------------------------


@dataclass
class TimelineItem:
    """One drawn item: its box, fill, tooltip and the label written inside it (empty when it would not fit)."""

    x: float
    y: int
    width: float
    colour: str
    tip: str
    label: str
    start: float = 0.0  # the clip time a click seeks the player to


@dataclass
class TimelineLane:
    """One lane: its title, top, height and items."""

    lane: str
    title: str
    y: int
    height: int
    items: list[TimelineItem]


@dataclass
class Tick:
    """A time mark on the axis."""

    x: float
    label: str


@dataclass
class Timeline:
    """The timeline's geometry, drawn by ``report/timeline.svg.j2``."""

    lanes: list[TimelineLane]
    ticks: list[Tick]
    legend: list[tuple[str, str]]
    bottom: int
    width: int = _WIDTH
    left: int = _LEFT
    axis_end: int = _WIDTH - _RIGHT
    row: int = _ROW

    @property
    def height(self) -> int:
        """The viewBox height."""
        return self.bottom + 4


def _pack(items: list[tuple[TimeSpan, str, str]]) -> list[int]:
    """A row for each item so that items in one row never overlap (greedy interval packing)."""
    row_ends: list[float] = []
    rows = []
    for span, _, _ in items:
        for index, end in enumerate(row_ends):
            if span.start >= end - 1e-6:
                row_ends[index] = span.end
                rows.append(index)
                break
        else:
            row_ends.append(span.end)
            rows.append(len(row_ends) - 1)
    return rows


def _ticks(duration: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if duration / step <= 12:
            break
    count = int(duration // step) + 1
    return [i * step for i in range(count)]


def layout_timeline(report: ClipReport) -> Timeline:
    """The timeline: one lane per kind on a shared time axis, overlapping items stacked in rows."""
    duration = report.duration or 1.0
    scale = (_WIDTH - _LEFT - _RIGHT) / duration
    lanes = report.timeline_items()
    speakers = sorted({lab.split(":", 1)[0] for _, lab, _ in lanes["speech"]})
    speaker_colour = {s: _SPEAKER_COLOURS[i % len(_SPEAKER_COLOURS)] for i, s in enumerate(speakers)}
    drawn: list[TimelineLane] = []
    y = 28
    for lane, title in LANES:
        entries = lanes[lane]
        if not entries and lane in {"description", "contradiction"}:
            continue
        rows = _pack(entries)
        height = max(1, max(rows, default=0) + 1) * _ROW
        items = []
        for (span, label, tip), row in zip(entries, rows, strict=True):
            width = max(2.0, span.duration * scale)
            colour = _LANE_COLOURS.get(lane, "#868e96")
            if lane == "speech":
                colour = speaker_colour[label.split(":", 1)[0]]
            elif lane == "sound_event":
                colour = _SOUND_COLOURS.get(label, "#63e6be")
            chars = int((width - 8) / 7.4)  # 13 px labels
            shown = label if len(label) <= chars else label[: max(1, chars - 1)] + "…"
            top = y + row * _ROW + 1
            shown = shown if width > 40 else ""
            items.append(TimelineItem(_LEFT + span.start * scale, top, width, colour, tip, shown, round(span.start, 3)))
        drawn.append(TimelineLane(lane, title, y, height, items))
        y += height + _GAP
    ticks = [Tick(_LEFT + t * scale, format_time(t)[:-4]) for t in _ticks(duration)]
    present_sounds = {label for _, label, _ in lanes["sound_event"]}
    legend = list(speaker_colour.items()) + [(k, c) for k, c in _SOUND_COLOURS.items() if k in present_sounds]
    return Timeline(drawn, ticks, legend, bottom=y)


# --- caption ----------------------------------------------------------------------------------------------


@dataclass
class SentenceView:
    """A storyline sentence, the time a player seeks to for it, and its sources: one line per observation it rests
    on, then one per repair that changed what it quotes (the on-screen text or other source the repair took)."""

    text: str
    backing: str
    start: float = 0.0
    ident: str = ""
    repairs: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        """Every source line: the observations, then the repairs."""
        return [*(self.backing.splitlines() if self.backing else []), *self.repairs]


def _clip(text: str, limit: int = 160) -> str:
    return " ".join(text.split())[:limit]


def _source_line(obs: Observation) -> str:
    return f"{obs.tool}/{obs.kind} {_fmt_span(obs.span)}: {_clip(obs.content)}"


def _repairs_by_speech(evidence: Evidence) -> dict[str, list[str]]:
    """Per speech observation key, the repairs the cross-check makes to it, as source lines."""
    from detective.evidence.crosscheck import cross_check

    out: dict[str, list[str]] = {}
    try:
        repairs = cross_check(evidence).repairs
    except (ValueError, KeyError, TypeError):  # a record from another version: the page still shows its caption
        return out
    for r in repairs:
        line = f"repaired “{r.heard}” → “{r.chosen}” from {_source_line(r.source)}"
        out.setdefault(r.speech.key, []).append(line + (f" ({r.reason})" if r.reason else ""))
    return out


def _grounded_lines(report: ClipReport) -> dict[str, list[SentenceView]]:
    """Per storyline paragraph (its text), its sentences with the observations behind each and its repairs."""
    by_key = {o.key: o for o in report.evidence.observations}
    repaired = _repairs_by_speech(report.evidence)
    out: dict[str, list[SentenceView]] = {}
    for number, seg in enumerate(report.caption.storyline):
        if not seg.sentences:
            continue
        views = []
        for index, sentence in enumerate(seg.sentences):
            backing = [by_key[k] for k in sentence.sources if k in by_key]
            lines = "\n".join(_source_line(o) for o in backing)
            repairs = [line for k in sentence.sources for line in repaired.get(k, [])]
            starts = [o.span.start for o in backing if o.span is not None and o.span.overlaps(seg.span)]
            start = max(seg.span.start, min(starts)) if starts else seg.span.start
            ident = f"src-{number}-{index}"
            views.append(SentenceView(sentence.text, lines, round(start, 3), ident, list(dict.fromkeys(repairs))))
        out[seg.text.strip()] = views
    return out


@functools.cache
def _markdown() -> MarkdownIt:
    """CommonMark without raw HTML (a caption holding ``<script>`` shows it as text) and without images (the page
    fetches nothing); each source line its own paragraph, as the caption format is line by line."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    md.core.ruler.push("caption_lines", _caption_lines)
    md.add_render_rule("grounded", _render_grounded)
    return md


def _caption_lines(state: StateCore) -> None:
    """Split every paragraph at its line breaks; mark span lines and the storyline lines that have grounding.

    Headings step down a level (the page's own sections are ``<h2>``).
    """
    from markdown_it.token import Token

    lines = state.src.splitlines()
    grounded: dict[str, list[SentenceView]] = state.env.get("grounded", {})
    tokens: list[Token] = []
    index = 0
    while index < len(state.tokens):
        token = state.tokens[index]
        if token.type in {"heading_open", "heading_close"}:
            token.tag = "h3" if int(token.tag[1]) <= 2 else "h4"
        if token.type != "paragraph_open" or token.hidden:
            tokens.append(token)
            index += 1
            continue
        inline, close = state.tokens[index + 1], state.tokens[index + 2]
        first = token.map[0] if token.map else 0
        for number, children in enumerate(_split_lines(inline.children or [])):
            source = lines[first + number].strip() if first + number < len(lines) else ""
            opening = Token("paragraph_open", "p", 1, block=True)
            line = Token("inline", "", 0, children=children, content=source)
            closing = Token("paragraph_close", "p", -1, block=True)
            if source in grounded:
                # a <div>, not a <p>: the paragraph's sentences and, after them, their source lists (no block
                # element inside a <p>, which the browser would close, cutting the paragraph into lines)
                opening, closing = Token("html_block", "div", 1, block=True), Token("html_block", "div", -1, block=True)
                opening.content, closing.content = '<div class="storyline">\n', "</div>\n"
                line = Token("grounded", "", 0, meta={"sentences": grounded[source]})
            elif _SPAN_LINE.match(source):
                opening.attrSet("class", "span")
            tokens += [opening, line, closing]
        index += 3
        assert close.type == "paragraph_close"
    state.tokens = tokens


def _split_lines(children: list[Token]) -> list[list[Token]]:
    groups: list[list[Token]] = [[]]
    for child in children:
        if child.type in {"softbreak", "hardbreak"}:
            groups.append([])
        else:
            groups[-1].append(child)
    return groups


def _render_grounded(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    macro = _templates().get_template("report/macros.html.j2").module.grounded_line  # type: ignore[attr-defined]
    return str(macro(tokens[idx].meta["sentences"]))


def caption_html(markdown: str, grounded: dict[str, list[SentenceView]] | None = None) -> str:
    """The caption's Markdown as HTML; storyline lines in ``grounded`` show the observations behind each sentence."""
    if not markdown.strip():
        return '<p class="muted">(empty caption)</p>'
    return _markdown().render(markdown, {"grounded": grounded or {}})


# --- pages ------------------------------------------------------------------------------------------------


def _trajectory_text(trajectory: list[dict[str, Any]]) -> str:
    return "\n\n".join(
        f"[{m.get('role')}] {m.get('content') or ''}"
        + (f"\n  tool calls: {json.dumps(m['tool_calls'], ensure_ascii=False)}" if m.get("tool_calls") else "")
        for m in trajectory
    )


def media_url(report: ClipReport, page: Path | None = None) -> str:
    """The address the page's player plays the clip from: the clip's file relative to ``page`` (or absolute), or its
    http(s) URL; empty when the clip is not at hand."""
    from urllib.parse import quote, urlparse

    source = report.source or str(report.media.get("source") or "")
    if urlparse(source).scheme in {"http", "https"}:
        return source
    local = report.media.get("path") or source
    if not local or not Path(local).is_file():
        return ""
    clip = Path(local).resolve()
    if page is not None:
        with contextlib.suppress(ValueError):  # another drive (Windows): the absolute path then
            return quote(Path(os.path.relpath(clip, page.resolve().parent)).as_posix())
    return clip.as_uri()


def render_html(report: ClipReport, page: Path | None = None) -> str:
    """The whole page for one clip: self-contained, no network needed (the player plays the local clip, written
    relative to ``page`` when given)."""
    counts = {lane: len(items) for lane, items in report.timeline_items().items()}
    summary = ", ".join(f"{n} {lane.replace('_', ' ')}" for lane, n in counts.items() if n)
    meta = f"{report.source or report.clip_id} · {report.duration:.1f} s"
    if report.media.get("width"):
        meta += f" · {report.media['width']}×{report.media['height']}"
    meta += f" · stopped: {report.stop_reason or 'unknown'}"
    usage_rows: list[tuple[str, Any]] = [
        (key.replace("_", " "), report.usage[key])
        for key in ("seconds", "llm_calls", "total_tokens", "observer_calls", "cost_usd")
        if key in report.usage
    ]
    usage_rows.append(("observer calls per tool", report.usage.get("tool_calls") or {}))
    from markupsafe import Markup

    template = _templates().get_template("report/page.html.j2")
    return template.render(
        r=report,
        clip_id=report.clip_id,
        meta=meta,
        summary=summary,
        t=layout_timeline(report),
        rounds=rounds_view(report),
        trajectory=_trajectory_text(report.trajectory),
        caption_html=Markup(caption_html(report.caption_markdown, _grounded_lines(report))),
        usage_rows=usage_rows,
        player=media_url(report, page),
        player_kind="video" if report.media.get("has_video", True) and report.media.get("width") else "audio",
    )


def page_names(ids: Iterable[str], stem: str, digits: int = 8) -> list[str]:
    """A file name per id, ``<stem>-<slug>-<hash>.html``, distinct for distinct ids and safe on any file system.

    The slug is the id folded to ASCII letters, digits, ``.``, ``_`` and ``-`` (at most 60 characters, never a
    leading dot, so ``..`` or ``/etc/passwd`` cannot leave the folder); the hash is the start of the sha256 of the
    exact id (``digits`` hex digits, more should two ids share them), so ``a/b`` and ``a_b`` get pages of their
    own. An id repeated in ``ids`` gets ``-2``, ``-3`` … on its later pages.
    """
    ids = list(ids)
    digests = {i: hashlib.sha256(i.encode("utf-8", "surrogatepass")).hexdigest() for i in ids}
    length = digits
    while len({d[:length] for d in digests.values()}) < len(digests):
        length += 2
    names: list[str] = []
    seen: dict[str, int] = {}
    for clip_id in ids:
        seen[clip_id] = seen.get(clip_id, 0) + 1
        again = f"-{seen[clip_id]}" if seen[clip_id] > 1 else ""
        names.append(f"{stem}-{_slug(clip_id)}-{digests[clip_id][:length]}{again}.html")
    return names


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)[:60].strip("._-") or "clip"


@dataclass
class IndexRow:
    """A line of the index: a captioned clip with its page and figures, or a failed one (no page) with its error."""

    name: str
    text: str
    page: str = ""
    cells: tuple[str, ...] = ()


def write_reports(source: str | Path, out: str | Path, clip_id: str | None = None) -> list[Path]:
    """Write the report(s) of ``source`` and return the files written.

    With ``clip_id`` (or a single record) one page goes to ``out``. With several records, each clip's page goes
    beside ``out`` (named by :func:`page_names`) and ``out`` becomes an index linking them; failed records are
    listed there with their error.
    """
    records = load_records(source)
    if not records:
        raise ReportError(f"{source}: no records")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if clip_id is not None:
        records = [select(records, clip_id)]
    if len(records) == 1:
        out.write_text(render_html(normalise(records[0]), out), encoding="utf-8")
        return [out]
    written: list[Path] = []
    rows: list[IndexRow] = []
    names = [record_id(r) for r in records]
    for record, name, page_name in zip(records, names, page_names(names, out.stem), strict=True):
        try:
            report = normalise(record)
        except ReportError as exc:
            rows.append(IndexRow(name, str(exc)))
            continue
        page = out.with_name(page_name)
        page.write_text(render_html(report, page), encoding="utf-8")
        written.append(page)
        cells = (f"{report.duration:.1f} s", str(len(report.evidence.observations)), *_usage_cells(report.usage))
        rows.append(IndexRow(name, report.stop_reason, page.name, cells))
    for entry in _sidecar_errors(source):
        rows.append(IndexRow(str(entry.get("source") or entry.get("key") or "?"), _error_text(entry)))
    failed = sum(1 for row in rows if not row.page)
    index = _templates().get_template("report/index.html.j2")
    out.write_text(index.render(source=str(source), rows=rows, captioned=len(written), failed=failed), "utf-8")
    return [out, *written]


def _usage_cells(usage: dict[str, Any]) -> tuple[str, ...]:
    """Observer calls, LLM calls, tokens and seconds of one clip, as index cells."""
    models = (usage.get("models") or {}).values()
    observer_calls = sum((usage.get("tool_calls") or {}).values())
    llm_calls = sum(int(m.get("calls", 0)) for m in models)
    tokens = sum(int(m.get("prompt_tokens", 0)) + int(m.get("completion_tokens", 0)) for m in models)
    return (str(observer_calls), str(llm_calls), f"{tokens:,}", f"{float(usage.get('seconds') or 0):.1f}")


def _error_text(entry: dict[str, Any]) -> str:
    kind = entry.get("error_type")
    attempts = entry.get("attempts")
    text = str(entry.get("error") or "unknown error")
    extra = ", ".join(x for x in (str(kind) if kind else "", f"{attempts} attempt(s)" if attempts else "") if x)
    return f"{text} ({extra})" if extra else text


def _sidecar_errors(source: str | Path) -> list[dict[str, Any]]:
    """Failed clips of a batch, from the errors file beside its output (``out.jsonl`` → ``out.errors.jsonl``)."""
    path = Path(source)
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json"}:
        return []
    errors = path.with_name(path.stem + ".errors.jsonl")  # as detective.agent.batch.sidecar_path names it
    if not errors.is_file():
        return []
    return [entry for _number, entry in iter_records(errors)]
