"""The run report: one self-contained HTML page per clip, from a batch output record or a RunResult JSON.

The page needs nothing from the network (inline CSS and SVG, no script, no font download) and shows:

- a **timeline**: SVG lanes on one time axis for shots, speech (coloured by speaker), on-screen text, sound events,
  LLM descriptions, contradictions and the caption's storyline spans. Every drawn item is a ``<rect>`` with the
  class ``item item-<lane>`` (e.g. ``item-shot``) and a ``<title>`` holding what was observed;
- the **rounds**: what the planner planned, each query run, each observation and each contradiction per round;
- the **caption**, the **usage** (calls, tokens, seconds, cost) and the **provenance** (versions, tools, models).

Records are read as :mod:`detective.batch` writes them, through the typed
:class:`~detective.jobs.record.CaptionRecord` (records with a ``record_version``); older batch records (the input
fields plus ``caption``, ``caption_struct``, ``omni_detective_trajectory``, ``evidence``, ``usage``,
``provenance``, ``stop_reason``) and what ``omni-detective caption --json`` prints (a
:class:`~detective.models.RunResult`) are read as they are.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detective.jobs.record import CaptionRecord
from detective.models import Caption, Evidence, Observation, Relation, RoundRecord, TimeSpan

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
        speaker = obs.payload.get("speaker")
        if isinstance(speaker, str) and speaker:
            return speaker
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
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list):
        return [r for r in whole if isinstance(r, dict)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
        if isinstance(record, dict):
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
        parts.append(f"[{_fmt_time(float(span['start']))} – {_fmt_time(float(span['end']))}]")
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

_CSS = """
details.grounded { display: inline; } details.grounded summary { display: inline; cursor: pointer; list-style: none; }
details.grounded summary::-webkit-details-marker { display: none; }
details.grounded summary:hover { background: #efeafd; } details.grounded[open] summary { background: #e4dcfb; }
details.grounded .sources { display: block; white-space: pre-wrap; font-size: 12px; color: var(--muted);
  border-left: 3px solid var(--accent); padding: 2px 8px; margin: 4px 0; }
.unbacked { text-decoration: underline dotted #b05; }
:root { --ink:#1d1d28; --muted:#5f6070; --line:#e3e1ef; --accent:#5b4bd6; --bg:#fbfaff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: var(--bg); }
header { padding: 18px 28px; background: #2a2553; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: #cfcaf5; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1360px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 0 0 10px; color: #2a2553; }
h3 { font-size: 15px; margin: 14px 0 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.kv th { width: 220px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; background: #eeeafd; color: #3b2fa6;
  font-size: 12px; margin-right: 4px; }
.contra { background: #fff1f0; border-left: 3px solid #e03131; padding: 4px 8px; margin: 4px 0; }
.fail { background: #fff8e6; border-left: 3px solid #f59f00; padding: 4px 8px; margin: 4px 0; }
.caption h3 { margin-top: 16px; color: #2a2553; }
.caption p { margin: 4px 0; white-space: pre-wrap; }
.caption .span { font-family: ui-monospace, "DejaVu Sans Mono", monospace; color: var(--accent); }
ul.queries { margin: 4px 0 8px; padding-left: 20px; }
.muted { color: var(--muted); }
.scroll { overflow-x: auto; }
svg.timeline { display: block; width: 100%; height: auto; }
.index td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.index tr.failed td { background: #fff8e6; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; }
svg .lane-title { font-size: 12px; font-weight: 600; fill: #2a2553; }
svg .tick { font-size: 11px; fill: #5f6070; }
svg .label { font-size: 11px; fill: #fff; pointer-events: none; }
svg .label.dark { fill: #1d1d28; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px;
  vertical-align: -2px; }
pre.traj { white-space: pre-wrap; font-size: 12px; background: #f7f6fb; padding: 8px; border-radius: 6px; }
"""

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


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt_time(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:06.3f}"


def _fmt_span(span: TimeSpan) -> str:
    return f"{_fmt_time(span.start)} – {_fmt_time(span.end)}"


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


def timeline_svg(report: ClipReport) -> str:
    """The timeline: one lane per kind on a shared time axis, overlapping items stacked in rows."""
    duration = report.duration or 1.0
    scale = (_WIDTH - _LEFT - _RIGHT) / duration
    lanes = report.timeline_items()
    speakers = sorted({lab.split(":", 1)[0] for _, lab, _ in lanes["speech"]})
    speaker_colour = {s: _SPEAKER_COLOURS[i % len(_SPEAKER_COLOURS)] for i, s in enumerate(speakers)}
    parts: list[str] = []
    y = 28
    for lane, title in LANES:
        items = lanes[lane]
        if not items and lane in {"description", "contradiction"}:
            continue
        rows = _pack(items)
        height = max(1, max(rows, default=0) + 1) * _ROW
        parts.append(f'<g class="lane lane-{lane}" data-count="{len(items)}">')
        parts.append(f'<rect x="0" y="{y - 3}" width="{_WIDTH}" height="{height + 6}" fill="#f7f6fb"/>')
        parts.append(f'<text class="lane-title" x="8" y="{y + 15}">{_esc(title)} ({len(items)})</text>')
        for (span, label, tip), row in zip(items, rows, strict=True):
            x = _LEFT + span.start * scale
            w = max(2.0, span.duration * scale)
            top = y + row * _ROW
            colour = _LANE_COLOURS.get(lane, "#868e96")
            if lane == "speech":
                colour = speaker_colour[label.split(":", 1)[0]]
            elif lane == "sound_event":
                colour = _SOUND_COLOURS.get(label, "#63e6be")
            parts.append(
                f'<rect class="item item-{lane}" x="{x:.1f}" y="{top + 1}" width="{w:.1f}" height="{_ROW - 4}" '
                f'rx="3" fill="{colour}"><title>{_esc(tip)}</title></rect>'
            )
            if w > 40:
                dark = " dark" if lane == "sound_event" else ""
                chars = int((w - 8) / 6.2)
                text = label if len(label) <= chars else label[: max(1, chars - 1)] + "…"
                parts.append(
                    f'<svg x="{x + 4:.1f}" y="{top + 1}" width="{w - 8:.1f}" height="{_ROW - 4}">'
                    f'<text class="label{dark}" x="0" y="{_ROW - 9}">{_esc(text)}</text></svg>'
                )
        parts.append("</g>")
        y += height + _GAP
    axis = [f'<line x1="{_LEFT}" y1="18" x2="{_WIDTH - _RIGHT}" y2="18" stroke="#adb5bd"/>']
    for t in _ticks(duration):
        x = _LEFT + t * scale
        axis.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{y}" stroke="#e3e1ef"/>')
        axis.append(f'<text class="tick" x="{x:.1f}" y="11" text-anchor="middle">{_fmt_time(t)[:-4]}</text>')
    present_sounds = {label for _, label, _ in lanes["sound_event"]}
    legend = "".join(
        f'<span><i style="background:{c}"></i>{_esc(s)}</span>' for s, c in speaker_colour.items()
    ) + "".join(
        f'<span><i style="background:{c}"></i>{_esc(k)}</span>'
        for k, c in _SOUND_COLOURS.items()
        if k in present_sounds
    )
    svg = (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'viewBox="0 0 {_WIDTH} {y + 4}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="timeline of {_esc(report.clip_id)}">' + "".join(axis) + "".join(parts) + "</svg>"
    )
    return f'{svg}<div class="legend">{legend}</div>' if legend else svg


def _grounded_paragraphs(report: ClipReport) -> dict[str, str]:
    """Storyline paragraphs as HTML whose sentences show, on hover or click, the observations they rest on."""
    by_key = {o.key: o for o in report.evidence.observations}
    out: dict[str, str] = {}
    for seg in report.caption.storyline:
        if not seg.sentences:
            continue
        parts = []
        for sentence in seg.sentences:
            backing = [by_key[k] for k in sentence.sources if k in by_key]
            if not backing:
                parts.append(f'<span class="unbacked">{_esc(sentence.text)}</span>')
                continue
            lines = "\n".join(
                f"{o.tool}/{o.kind} {_fmt_span(o.span) if o.span else 'whole clip'}: {_clip(o.content)}"
                for o in backing
            )
            parts.append(
                f'<details class="grounded"><summary>{_esc(sentence.text)}</summary>'
                f'<span class="sources" title="{_esc(lines)}">{_esc(lines)}</span></details>'
            )
        out[seg.text.strip()] = " ".join(parts)
    return out


def _clip(text: str, limit: int = 160) -> str:
    return " ".join(text.split())[:limit]


def _caption_html(markdown: str, grounded: dict[str, str] | None = None) -> str:
    grounded = grounded or {}
    out = []
    span_line = re.compile(r"^\s*(\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s*-\s*(\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s*$")
    for line in markdown.splitlines():
        if line.startswith("## "):
            out.append(f"<h3>{_esc(line[3:].strip())}</h3>")
        elif line.startswith("# "):
            out.append(f"<h3>{_esc(line[2:].strip())}</h3>")
        elif span_line.match(line):
            out.append(f'<p class="span">{_esc(line.strip())}</p>')
        elif line.strip() in grounded:
            out.append(f'<p class="storyline">{grounded[line.strip()]}</p>')
        elif line.strip():
            out.append(f"<p>{_esc(line)}</p>")
    return "\n".join(out) or '<p class="muted">(empty caption)</p>'


def _kv_table(rows: Iterable[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_plain(v))}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "—"
    return "—" if value in (None, "") else str(value)


def _usage_html(usage: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = []
    for key in ("seconds", "llm_calls", "total_tokens", "observer_calls", "cost_usd"):
        if key in usage:
            rows.append((key.replace("_", " "), usage[key]))
    rows.append(("observer calls per tool", usage.get("tool_calls") or {}))
    models = usage.get("models") or {}
    table = ""
    if models:
        body = "".join(
            f"<tr><td>{_esc(m)}</td><td>{_esc(u.get('calls', 0))}</td><td>{_esc(u.get('cached_calls', 0))}</td>"
            f"<td>{_esc(u.get('prompt_tokens', 0))}</td><td>{_esc(u.get('completion_tokens', 0))}</td></tr>"
            for m, u in models.items()
        )
        table = (
            "<h3>Models</h3><table><tr><th>model</th><th>calls</th><th>cached</th><th>prompt tokens</th>"
            f"<th>completion tokens</th></tr>{body}</table>"
        )
    else:
        table = '<p class="muted">No language model was called (offline run).</p>'
    return _kv_table(rows) + table


def _observation_row(obs: Observation) -> str:
    span = _fmt_span(obs.span) if obs.span else "whole clip"
    conf = f"{obs.confidence:.2f}" if obs.confidence is not None else "—"
    return (
        f'<tr class="obs"><td>{_esc(obs.tool)}</td><td>{_esc(obs.kind)}</td><td>{_esc(span)}</td>'
        f"<td>{_esc(obs.content)}</td><td>{conf}</td></tr>"
    )


def _rounds_html(report: ClipReport) -> str:
    views = rounds_view(report)
    if not views:
        return '<p class="muted">No rounds were run.</p>'
    out = []
    for view in views:
        title = f"Round {view.number}" if view.number else "Outside any round"
        out.append(f'<div class="round" id="round-{view.number}"><h3>{title}</h3>')
        if view.note:
            out.append(f'<p class="muted">{_esc(view.note)}</p>')
        if view.planned:
            items = "".join(f"<li>{_esc(q)}</li>" for q in view.planned)
            out.append(f'<div><span class="tag">planned</span><ul class="queries">{items}</ul></div>')
        if view.ran:
            items = "".join(f"<li>{_esc(q)}</li>" for q in view.ran)
            out.append(f'<div><span class="tag">queries run</span><ul class="queries">{items}</ul></div>')
        if view.observations:
            rows = "".join(_observation_row(o) for o in view.observations)
            out.append(
                f'<span class="tag">observations ({len(view.observations)})</span><table>'
                "<tr><th>tool</th><th>kind</th><th>span</th><th>content</th><th>confidence</th></tr>"
                f"{rows}</table>"
            )
        else:
            out.append('<p class="muted">No new observation in this round.</p>')
        for rel in view.contradictions:
            span = _fmt_span(rel.span) if rel.span else "whole clip"
            out.append(
                f'<div class="contra">contradiction at {_esc(span)}: {_esc(rel.tools[0])} says “{_esc(rel.a_says)}”, '
                f"{_esc(rel.tools[1])} says “{_esc(rel.b_says)}”"
                + (f" — {_esc(rel.note)}" if rel.note else "")
                + "</div>"
            )
        for failure in view.failures:
            out.append(f'<div class="fail">observer failed: {_esc(failure)}</div>')
        out.append("</div>")
    if report.trajectory:
        messages = "\n\n".join(
            f"[{m.get('role')}] {m.get('content') or ''}"
            + (f"\n  tool calls: {json.dumps(m['tool_calls'], ensure_ascii=False)}" if m.get("tool_calls") else "")
            for m in report.trajectory
        )
        out.append(
            f"<details><summary>Planner trajectory ({len(report.trajectory)} messages)</summary>"
            f'<pre class="traj">{_esc(messages)}</pre></details>'
        )
    return "\n".join(out)


def render_html(report: ClipReport) -> str:
    """The whole page for one clip: self-contained, no network needed."""
    counts = {lane: len(items) for lane, items in report.timeline_items().items()}
    summary = ", ".join(f"{n} {lane.replace('_', ' ')}" for lane, n in counts.items() if n)
    meta = f"{_esc(report.source or report.clip_id)} · {report.duration:.1f} s"
    if report.media.get("width"):
        meta += f" · {report.media['width']}×{report.media['height']}"
    meta += f" · stopped: {_esc(report.stop_reason or 'unknown')}"
    notes = "".join(f'<div class="fail">{_esc(n)}</div>' for n in report.notes)
    provenance = _kv_table(report.provenance.items())
    inputs = _kv_table(report.extra.items()) if report.extra else ""
    media = _kv_table(report.media.items()) if report.media else ""
    grounding = ""
    if report.grounding:
        score, missing = report.grounding.get("score"), report.grounding.get("ungrounded") or []
        grounding = f'<p class="muted">Grounding {_esc(score)}: share of the caption\'s names, numbers and quoted '
        grounding += "words that an observation reports. Click a sentence for the observations behind it."
        grounding += (f" Not reported by any observation: {_esc(', '.join(missing))}." if missing else "") + "</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>omni-detective report · {_esc(report.clip_id)}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{_esc(report.clip_id)}</h1><div class="meta">{meta}</div></header>
<main>
{notes}
<section id="timeline"><h2>Timeline</h2><p class="muted">{_esc(summary) or "nothing observed"}.
Hover an item for what was observed.</p>{timeline_svg(report)}</section>
<section id="rounds"><h2>Rounds</h2>{_rounds_html(report)}</section>
<section id="caption" class="caption"><h2>Caption</h2>{grounding}
{_caption_html(report.caption_markdown, _grounded_paragraphs(report))}</section>
<section id="usage"><h2>Usage</h2>{_usage_html(report.usage)}</section>
<section id="provenance"><h2>Provenance</h2>{provenance}{media}{inputs}</section>
</main></body></html>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "clip"


def write_reports(source: str | Path, out: str | Path, clip_id: str | None = None) -> list[Path]:
    """Write the report(s) of ``source`` and return the files written.

    With ``clip_id`` (or a single record) one page goes to ``out``. With several records, each clip's page goes
    beside ``out`` as ``<stem>-<id>.html`` and ``out`` becomes an index linking them; failed records are listed
    there with their error.
    """
    records = load_records(source)
    if not records:
        raise ReportError(f"{source}: no records")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if clip_id is not None:
        records = [select(records, clip_id)]
    if len(records) == 1:
        out.write_text(render_html(normalise(records[0])), encoding="utf-8")
        return [out]
    written: list[Path] = []
    rows = []
    failed = 0
    for record in records:
        name = record_id(record)
        try:
            report = normalise(record)
        except ReportError as exc:
            failed += 1
            rows.append(_failed_row(name, str(exc)))
            continue
        page = out.with_name(f"{out.stem}-{_slug(name)}.html")
        page.write_text(render_html(report), encoding="utf-8")
        written.append(page)
        rows.append(
            f'<tr><td><a href="{_esc(page.name)}">{_esc(name)}</a></td><td>captioned</td>'
            f'<td class="num">{report.duration:.1f} s</td>'
            f'<td class="num">{len(report.evidence.observations)}</td>{_usage_cells(report.usage)}'
            f"<td>{_esc(report.stop_reason)}</td></tr>"
        )
    for entry in _sidecar_errors(source):
        failed += 1
        rows.append(_failed_row(str(entry.get("source") or entry.get("key") or "?"), _error_text(entry)))
    head = (
        "<tr><th>clip</th><th>status</th><th>duration</th><th>observations</th><th>observer calls</th>"
        "<th>LLM calls</th><th>tokens</th><th>seconds</th><th>stop reason or error</th></tr>"
    )
    index = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>omni-detective reports</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body><header><h1>omni-detective reports</h1>"
        f'<div class="meta">{_esc(source)} · {len(rows) - failed} captioned · {failed} failed</div></header>'
        f'<main><section><div class="scroll"><table class="index">{head}{"".join(rows)}</table></div>'
        "</section></main></body></html>"
    )
    out.write_text(index, encoding="utf-8")
    return [out, *written]


def _failed_row(name: str, error: str) -> str:
    return (
        f'<tr class="failed"><td>{_esc(name)}</td><td>failed</td>'
        + '<td class="num">–</td>' * 6
        + f"<td>{_esc(error)}</td></tr>"
    )


def _usage_cells(usage: dict[str, Any]) -> str:
    """Observer calls, LLM calls, tokens and seconds of one clip, as index cells."""
    models = (usage.get("models") or {}).values()
    observer_calls = sum((usage.get("tool_calls") or {}).values())
    llm_calls = sum(int(m.get("calls", 0)) for m in models)
    tokens = sum(int(m.get("prompt_tokens", 0)) + int(m.get("completion_tokens", 0)) for m in models)
    cells = (observer_calls, llm_calls, f"{tokens:,}", f"{float(usage.get('seconds') or 0):.1f}")
    return "".join(f'<td class="num">{_esc(c)}</td>' for c in cells)


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
    errors = path.with_name(path.stem + ".errors.jsonl")  # as detective.batch.sidecar_path names it
    if not errors.is_file():
        return []
    entries = []
    for line in errors.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
