"""Coverage: what the observers examined, so a caption states absence only where someone looked.

Every observer run leaves a :class:`~detective.models.Coverage` record on the evidence board (the ``observe`` node
writes it): the tool, its modalities, the aspects a run that finds nothing rules out (``text`` for OCR, ``speech``
for ASR, ``sound`` for signal analysis …), the span examined, how densely, and whether it worked. Captioners ask
:func:`examined` before writing "no on-screen text was read", and say "on-screen text was not examined" otherwise.
A clip is done only when, for each modality it has that the tool box examines, at least one run succeeded
(:func:`unexamined_modalities`). Prompts get these facts from :func:`detective.evidence.digest.coverage_digest`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from detective.models import Coverage, Evidence, MediaInfo, TimeSpan, format_time

#: Share of a span that successful runs must have examined for absence to be stated over it.
COVERED_SHARE = 0.95

#: Plain words for each aspect, as a caption names it.
ASPECT_WORDS = {
    "shots": "shot changes",
    "text": "on-screen text",
    "speech": "speech",
    "sound": "the sound level",
    "speakers": "who speaks",
    "objects": "what the frames show",
    "faces": "faces",
    "people": "people",
    "sound_classes": "sound classes",
}


class NoEvidenceError(RuntimeError):
    """A clip for which no observer succeeded on a modality it has: it is failed, not captioned.

    Not retryable within a run (the same observers would fail the same way); the next run retries it
    (``next_run_may_help``: an endpoint or key fixed since can make the observers succeed).
    """

    retryable = False
    next_run_may_help = True


def runs(evidence: Evidence, aspect: str) -> list[Coverage]:
    """Successful runs that vouch for ``aspect``."""
    return [c for c in evidence.coverage if c.ok and aspect in c.aspects]


def _union(spans: Iterable[TimeSpan]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for s in sorted(spans, key=lambda s: s.start):
        if merged and s.start <= merged[-1][1] + 1e-6:
            merged[-1][1] = max(merged[-1][1], s.end)
        else:
            merged.append([s.start, s.end])
    return [(a, b) for a, b in merged]


def examined(evidence: Evidence, aspect: str, span: TimeSpan | None = None) -> bool:
    """True when successful runs examined ``aspect`` over (almost all of) ``span`` (the whole clip: ``None``)."""
    found = runs(evidence, aspect)
    if not found:
        return False
    if span is None or any(c.span is None for c in found):
        return span is None or bool(found)
    if span.duration <= 0:
        return any(c.span is not None and c.span.start <= span.start <= c.span.end for c in found)
    seen = sum(max(0.0, min(b, span.end) - max(a, span.start)) for a, b in _union(c.span for c in found if c.span))
    # what could not be decoded was not examined, whoever's run it fell in
    streams = {m for c in found for m in c.modalities}
    lost = sum(
        max(0.0, min(b, span.end) - max(a, span.start))
        for a, b in _union(s for m, s in undecoded(evidence) if m in streams)
    )
    return seen - lost >= COVERED_SHARE * span.duration


def undecoded(evidence: Evidence) -> list[tuple[str, TimeSpan]]:
    """The spans decoding skipped as damaged, per modality (merged over all runs), in time order."""
    spans: dict[str, list[TimeSpan]] = {}
    for c in evidence.coverage:
        for modality, span in c.undecoded:
            spans.setdefault(modality, []).append(span)
    merged = [(m, TimeSpan(start=a, end=b)) for m, found in spans.items() for a, b in _union(found)]
    return sorted(merged, key=lambda item: (item[1].start, item[0]))


def undecoded_sentence(evidence: Evidence, clock: Callable[[float], str] = format_time) -> str:
    """ "The audio could not be decoded from X to Y and from … (damaged data …)" for the damaged spans, one clause
    per modality, or ``""`` when everything decoded."""
    spans: dict[str, list[TimeSpan]] = {}
    for modality, span in undecoded(evidence):
        spans.setdefault(modality, []).append(span)
    if not spans:
        return ""
    parts = [
        f"the {m} could not be decoded " + " and ".join(f"from {clock(s.start)} to {clock(s.end)}" for s in found)
        for m, found in spans.items()
    ]
    listed = "; ".join(parts)
    return listed[0].upper() + listed[1:] + " (damaged data, skipped; the rest was examined as usual)"


def how(evidence: Evidence, aspect: str) -> str:
    """How ``aspect`` was examined, for a caption: ``"OCR at 1 frame/s"`` or ``"by asr"``."""
    found = runs(evidence, aspect)
    details = list(dict.fromkeys(c.detail for c in found if c.detail))
    if details:
        return "; ".join(details)
    tools = list(dict.fromkeys(c.tool for c in found))
    return "by " + " and ".join(tools) if tools else ""


def examined_modalities(evidence: Evidence) -> set[str]:
    """Modalities on which at least one observer run succeeded."""
    return {m for c in evidence.coverage if c.ok for m in c.modalities}


def unexamined_modalities(media: MediaInfo, evidence: Evidence, box: Iterable[Iterable[str]]) -> list[str]:
    """Modalities the clip has and the tool box examines, on which no observer succeeded.

    ``box`` holds the modalities of each tool in the tool box; a modality no tool examines is reported as "not
    examined" in the caption instead (the user chose the tools).
    """
    wanted = {m for modalities in box for m in modalities} & set(media.modalities)
    return sorted(wanted - examined_modalities(evidence))
