"""LLM answers as claims on the board: an observer's free-text answer split into claims, each cross-checked.

An audio or vision LLM observer answers in prose, and prose can be confidently wrong. :func:`extract` splits a
``description`` observation into clauses and finds the checkable claims in each, by rules and lexicons only (no
model): who speaks and how (a woman's or a man's voice, how many voices), what is said about (the topic), music,
silence and sounds (a door, a beep …), words quoted, and the times the clause gives. :func:`relations` checks every
claim against what the local observers measured (voice pitch and count, the transcript's words, measured music,
silence and sound events, on-screen text) and against the other LLM observers' claims: the result is agreements
and contradictions on the board (:class:`~detective.models.Relation` with ``aspect`` set), which planners re-check
and the Cross-checks section lists. :func:`settle` groups the clauses of all answers (the same clause from two
models is one clause) with their verdict: ``contradicted`` (local evidence says otherwise: left out of captions),
``confirmed`` (a local observer agrees) or ``reported`` (nothing confirms or contradicts it: worded as the
observer's report).

Absence contradicts a claim only where an observer examined the aspect over the claim's span
(:mod:`detective.evidence.coverage`): "a piano plays" is contradicted by an audio analysis that ran there, measured no
music, never by a tool that did not run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from detective.evidence import coverage
from detective.evidence.crosscheck import QUOTED as _QUOTED
from detective.evidence.crosscheck import TIME_STAMP as _TIME
from detective.evidence.crosscheck import norm, untimed
from detective.models import Coverage, Evidence, Observation, Relation, TimeSpan, format_time

#: Voices whose median pitch is at or above this (Hz) are in the usual range of women's (and children's) voices;
#: below :data:`LOW_VOICE_HZ` in the usual range of men's. Adult speaking pitch: men about 85–155 Hz, women about
#: 165–255 Hz (Titze, *Principles of Voice Production*); the fixtures' espeak voices measure 82 Hz and 275 Hz.
HIGH_VOICE_HZ = 165.0
LOW_VOICE_HZ = 160.0
#: A claim made "at" a moment is checked over this many seconds either side of it.
MOMENT = 1.0
#: A sound heard this little inside a claim's span (seconds) is the edge of a neighbour, not a sound there: a
#: sound tag's window from 5.99 s does not excuse "a door closes at 00:05" (4.0-6.0 s) over speech alone.
EDGE = 0.25
#: Similarity (rapidfuzz partial ratio, 0–100) at which quoted words match a transcript or on-screen text.
QUOTE_MATCH = 85
#: A topic is checked only against a transcript of at least this many words.
TOPIC_WORDS = 6


def _top_level(body: str) -> list[str]:
    """The alternatives of a regex body at its top level (``a|b(?:c|d)`` is ``a`` and ``b(?:c|d)``)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(body[start:i])
            start = i + 1
    return [*out, body[start:]]


def _keywords(body: str, tail: str = "", *, capture: bool = False) -> re.Pattern[str]:
    """``\\b(?:body)tail\\b``, case-insensitive, behind a lookahead of the alternatives' first letters.

    Every answer is searched for a dozen lexicons, clause by clause; a pattern that starts with ``\\b`` makes
    Python's engine try every alternative at every position, while a leading character class lets it skip to a
    letter that can start one (2 to 3 times faster on a 500-byte answer, the same matches). Each alternative of
    ``body`` must start with a letter.
    """
    firsts = {alt[0].lower() for alt in _top_level(body)}
    if not all(c.isalpha() for c in firsts):
        raise ValueError(f"every alternative must start with a letter: {body!r}")
    letters = "".join(sorted(firsts | {c.upper() for c in firsts}))
    group = "(" if capture else "(?:"
    return re.compile(rf"(?=[{letters}])\b{group}{body}){tail}\b", re.IGNORECASE)


_CLAUSES = re.compile(
    r"(?<=[.!?;])\s+|;\s*|,?\s+(?:and|while|but|whereas|then)\s+(?=(?:a|an|the|then|later|one|two|another|some|"
    r"there|it|he|she|they|music|no|someone|people)\b)",
    re.IGNORECASE,
)
_SPEAKING = _keywords(
    r"speak\w*|say\w*|said|talk\w*|voices?|narrat\w*|comment\w*|announc\w*|discuss\w*|lectur\w*|"
    r"speaker\w*|tell\w*|explain\w*|describ\w*"
)
_FEMALE = _keywords(r"woman|women|female|girl|lady|ladies")
_MALE = _keywords(r"man|men|male|boy|gentleman|guy")
_NEGATED = _keywords(r"no|not|never|without|none|nothing|neither|nor")
_NUMBERS = {"one": 1, "a single": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COUNT = re.compile(
    r"\b(one|a single|single|two|three|four|five|six|\d)\s+(?:different\s+|distinct\s+|separate\s+)?"
    r"(?:speakers?|voices?|people\s+(?:speak|talk))",
    re.IGNORECASE,
)
_TOPIC = re.compile(
    r"\b(?:about|on the (?:topic|subject) of|discuss(?:es|ing)?|lectur(?:e|es|ing) on)\s+(?!\d)"
    r"([a-z][a-z' -]{2,60}?)(?=$|[,.;:!?]|\s(?:while|and a|with|as|in a|from|at|until|for)\b)",
    re.IGNORECASE,
)
MUSIC = _keywords(
    r"music\w*|piano|guitar|violin|cello|drums?|melod\w*|songs?|singing|orchestra\w*|soundtrack|jingle|"
    r"chords?|strings|harmon\w*"
)
_SILENCE = _keywords(r"silen(?:t|ce)|no sound|no audio")
#: Sound words an answer may use, and the words of a sound event's label or a sound class that bear them out.
#: A generic word ("noise", "beep") is borne out by the signal analysis's own labels; a specific one ("door")
#: only by a sound class that names it.
SOUNDS: dict[str, tuple[str, ...]] = {
    "door": ("door", "slam", "knock"),
    "knock": ("knock", "door", "tap"),
    "bell": ("bell", "chime", "ding"),
    "dog": ("dog", "bark", "bow-wow"),
    "bark": ("bark", "dog"),
    "applause": ("applause", "clap"),
    "clapping": ("clap", "applause"),
    "laughter": ("laugh",),
    "footsteps": ("footstep", "walk"),
    "engine": ("engine", "vehicle", "car", "motor"),
    "car": ("car", "vehicle", "engine", "traffic"),
    "horn": ("horn", "honk"),
    "siren": ("siren",),
    "alarm": ("alarm", "beep", "buzzer"),
    "phone": ("telephone", "phone", "ring"),
    "gunshot": ("gunshot", "gun", "explosion"),
    "explosion": ("explosion", "boom", "burst"),
    "glass": ("glass", "shatter"),
    "thunder": ("thunder",),
    "rain": ("rain",),
    "wind": ("wind",),
    "water": ("water", "stream", "splash"),
    "crowd": ("crowd", "chatter", "cheer"),
    "cheering": ("cheer", "crowd"),
    "birds": ("bird", "chirp", "tweet"),
    "cough": ("cough",),
    "typing": ("typing", "keyboard"),
    "whistle": ("whistle",),
    "beep": ("beep", "tone", "sine", "bleep"),
    "tone": ("tone", "beep", "sine"),
    "sweep": ("tone", "sine", "chirp", "sweep"),
    "noise": ("noise", "static", "hiss", "white noise"),
    "hiss": ("hiss", "noise", "static"),
    "static": ("static", "noise", "hiss"),
    "buzz": ("buzz", "hum"),
    "hum": ("hum", "buzz"),
    "click": ("click", "tick"),
}
_SOUND = _keywords("|".join(sorted(SOUNDS, key=len, reverse=True)), r"(?:e?s)?", capture=True)
_ON_SCREEN = _keywords(r"reads?|read out|titles?|captions?|signs?|screen|text|written|banner|labell?ed")
#: Sound event labels that are no sound event of their own (the signal analysis's bed and voice labels).
_QUIET_LABELS = {"silence", "background", "speech-like"}
_SPEECH_CLASSES = re.compile(r"\b(?:speech|conversation|narration|silence|male|female|child speech)\b", re.I)
_STOP = {"the", "a", "an", "and", "of", "to", "in", "on", "its", "their", "his", "her", "some", "this", "that"}
#: "speaks for about a minute" names a duration, not a topic.
_NOT_TOPICS = {"minute", "minutes", "second", "seconds", "hour", "hours", "half", "moment", "while", "same", "time"}

#: Plain names of what a local observer measured, for the Cross-checks notes.
ASPECTS = ("voice", "voices", "topic", "music", "silence", "sound", "quote")


@dataclass(frozen=True)
class Claim:
    """One checkable claim in an LLM observer's answer."""

    source: str  # key of the description observation
    tool: str
    aspect: str  # one of ASPECTS
    value: str  # "female", "2", "classical literature", "piano", "door", the quoted words …
    clause: str  # the clause of the answer that makes it
    span: TimeSpan | None
    negated: bool = False
    medium: str = "speech"  # for quotes: "speech" or "text"
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # claims key the memos of :func:`relations` (every board merge): hashed once, not field by field each time
        fields = (self.source, self.tool, self.aspect, self.value, self.clause, self.span, self.negated, self.medium)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash


@dataclass
class Settled:
    """A clause of the LLM answers with its verdict, as captioners write it (or leave it out)."""

    clause: str
    sources: list[Observation]
    span: TimeSpan | None
    status: str  # "contradicted", "confirmed" or "reported"
    claims: list[Claim] = field(default_factory=list)
    support: list[Relation] = field(default_factory=list)
    against: list[Relation] = field(default_factory=list)


# --- extraction ------------------------------------------------------------------------------------------


def _seconds(match: re.Match[str]) -> float:
    if match.group(4) is not None:
        return float(match.group(4))
    return int(match.group(1) or 0) * 3600 + int(match.group(2)) * 60 + float(match.group(3))


def clauses(text: str) -> list[str]:
    """The clauses of an answer: sentences, cut again at "; " and at "and"/"while" … before a new subject.
    Quoted words are never cut."""
    return list(_clauses(text))


#: Answers whose clauses and claims are kept: the board is re-checked whenever it grows (every observer answer,
#: every clip in flight), and an observation never changes, so each answer is split once, not once a merge.
_SPLIT_CACHE = 8192


@functools.lru_cache(maxsize=_SPLIT_CACHE)
def _clauses(text: str) -> tuple[str, ...]:
    quotes: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quotes.append(m.group(0))
        return f"\x00{len(quotes) - 1}\x00"

    hidden = _QUOTED.sub(hide, " ".join(text.split()))
    out = []
    for piece in _CLAUSES.split(hidden):
        piece = re.sub(r"\x00(\d+)\x00", lambda m: quotes[int(m.group(1))], piece or "").strip(" ,")
        if norm(piece):
            out.append(piece)
    return tuple(out)


@functools.lru_cache(maxsize=_SPLIT_CACHE)
def _clause_span(clause: str, around: TimeSpan | None) -> TimeSpan | None:
    """The time a clause gives: "from A to B", "between A and B", "from A" (to the end of the answer's span),
    "at A" (a moment, ± :data:`MOMENT`); else the answer's own span."""
    times = list(_TIME.finditer(clause))
    if not times:
        return around
    end_of = around.end if around is not None else None
    first = _seconds(times[0])
    if len(times) >= 2:
        a, b = sorted((first, _seconds(times[1])))
        return TimeSpan(start=a, end=b)
    before = clause[: times[0].start()].lower().split()[-2:]
    if any(w in ("from", "since", "starting", "after") for w in before) and end_of is not None and end_of > first:
        return TimeSpan(start=first, end=end_of)
    return TimeSpan(start=max(0.0, first - MOMENT), end=first + MOMENT)


def _modality(obs: Observation) -> str:
    return obs.payload.modality or obs.tool  # a description's payload


def extract(obs: Observation) -> list[Claim]:
    """The checkable claims of one ``description`` observation (none for other kinds)."""
    if obs.kind != "description":
        return []
    return list(_extract(obs.key, obs.tool, obs.content, obs.span, _modality(obs)))


@functools.lru_cache(maxsize=_SPLIT_CACHE)
def _extract(key: str, tool: str, content: str, around: TimeSpan | None, modality: str) -> tuple[Claim, ...]:
    found: list[Claim] = []
    for clause in _clauses(content):
        span = _clause_span(clause, around)
        bare = _QUOTED.sub(" ", clause)
        negated = bool(_NEGATED.search(bare))

        def add(
            aspect: str,
            value: str,
            neg: bool = negated,
            medium: str = "speech",
            c: str = clause,
            at: TimeSpan | None = span,
        ) -> None:
            found.append(Claim(key, tool, aspect, value, c, at, neg, medium))

        speaking = bool(_SPEAKING.search(bare))
        if speaking and not negated:
            if _FEMALE.search(bare):
                add("voice", "female")
            if _MALE.search(bare):
                add("voice", "male")
            topic = _TOPIC.search(bare)
            if topic and _topic_words(topic.group(1)):
                add("topic", topic.group(1).strip())
        count = _COUNT.search(bare)
        if count and not negated:
            word = count.group(1).lower()
            add("voices", str(_NUMBERS.get(word, int(word) if word.isdigit() else 0)))
        music = MUSIC.search(bare)
        if music:
            add("music", music.group(0).lower())
        if _SILENCE.search(bare) and not music:
            add("silence", "silence", neg=bool(re.search(r"\bnot\s+silent|\bno silence", bare, re.I)))
        for sound in dict.fromkeys(m.group(1).lower() for m in _SOUND.finditer(bare)):
            add("sound", sound)
        for m in _QUOTED.finditer(clause):
            words = m.group(1) or m.group(2) or ""
            if len(norm(words).split()) >= 1:
                visual = bool(_ON_SCREEN.search(bare)) or ("audio" not in modality and not speaking)
                add("quote", words.strip(), neg=False, medium="text" if visual else "speech")
    return tuple(found)


def _topic_words(topic: str) -> list[str]:
    words = norm(topic).split()
    if _NOT_TOPICS & set(words):
        return []
    return [w for w in words if len(w) >= 4 and w not in _STOP]


# --- checking ------------------------------------------------------------------------------------------


def _overlaps(obs: Observation, span: TimeSpan | None) -> bool:
    if span is None or obs.span is None:
        return True
    if span.duration == 0 or obs.span.duration == 0:
        return obs.span.start <= span.end and span.start <= obs.span.end
    return obs.span.overlap(span) > 0


def _label(obs: Observation) -> str:
    """A sound event's label or a sound tag's class; the content of other kinds."""
    named = obs.payload.label if obs.kind == "sound_event" else None
    named = obs.payload.sound_class if obs.kind == "sound_tag" else named
    return (named or obs.content).strip().lower()


def _pitch(obs: Observation) -> float | None:
    return obs.payload.pitch_hz  # a speaker turn's or a sound event's payload


def _when(span: TimeSpan | None) -> str:
    return f" between {format_time(span.start)} and {format_time(span.end)}" if span else ""


Verdict = tuple[str, Observation, str] | None  # (kind, the local observation, what it measured)


def _check_voice(claim: Claim, ev: Evidence) -> Verdict:
    pitched = [
        (o, p)
        for o in ev.observations
        if (o.kind == "speaker" or (o.kind == "sound_event" and _label(o) == "speech-like"))
        and _overlaps(o, claim.span)
        and (p := _pitch(o)) is not None
    ]
    turns = [(o, p) for o, p in pitched if o.kind == "speaker"]
    pitched = turns or pitched
    if not pitched:
        return None
    want_high = claim.value == "female"
    for o, p in pitched:
        if (p >= HIGH_VOICE_HZ) if want_high else (p < LOW_VOICE_HZ):
            return "agreement", o, f"a voice pitched about {p:.0f} Hz{_when(o.span)}"
    against = [(o, p) for o, p in pitched if ((p < LOW_VOICE_HZ) if want_high else (p >= HIGH_VOICE_HZ))]
    if len(against) == len(pitched):
        listed = ", ".join(f"{p:.0f}" for p in sorted({round(p) for _, p in against}))
        register = "low (a man's range)" if want_high else "high (a woman's or child's range)"
        return "contradiction", against[0][0], f"only voices pitched {register}, about {listed} Hz, were measured"
    return None


def _check_voices(claim: Claim, ev: Evidence) -> Verdict:
    for o in ev.observations:
        n = o.payload.num_speakers if o.kind == "metadata" else None
        if n is not None and n > 0 and _overlaps(o, claim.span):
            kind = "agreement" if n == int(claim.value) else "contradiction"
            return kind, o, f"voice separation found {n} voice{'s' if n != 1 else ''}"
    return None


def _speech(ev: Evidence, span: TimeSpan | None) -> list[Observation]:
    return [o for o in ev.by_kind("speech") if not o.payload.unconfirmed and _overlaps(o, span)]


def _excerpt(text: str, words: int = 10) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _check_topic(claim: Claim, ev: Evidence) -> Verdict:
    speech = _speech(ev, claim.span)
    said = [w for o in speech for w in norm(o.content).split()]
    if len(said) < TOPIC_WORDS:
        return None
    for topic_word in _topic_words(claim.value):
        stem = topic_word[:5]
        for o in speech:
            if any(w.startswith(stem) for w in norm(o.content).split()):
                return "agreement", o, f"the transcript mentions “{topic_word}”"
    return "contradiction", speech[0], f"the transcript says “{_excerpt(' '.join(o.content for o in speech))}”"


def _check_music(claim: Claim, ev: Evidence) -> Verdict:
    heard = [
        o
        for o in ev.observations
        if _overlaps(o, claim.span)
        and (
            (o.kind == "sound_event" and _label(o) == "music-like")
            or (o.kind == "sound_tag" and MUSIC.search(_label(o) + " " + o.content))
        )
    ]
    if heard:
        o = heard[0]
        return ("contradiction" if claim.negated else "agreement"), o, f"{o.tool} measured {_label(o)}{_when(o.span)}"
    if claim.span is not None and coverage.examined(ev, "sound", claim.span):
        witness = _witness(ev, "sound", claim.span)
        if witness is not None:
            kind = "agreement" if claim.negated else "contradiction"
            return kind, witness, f"audio analysis measured no music{_when(claim.span)}"
    return None


def _check_silence(claim: Claim, ev: Evidence) -> Verdict:
    if claim.span is None:
        return None
    silent = [o for o in ev.observations if o.kind == "sound_event" and _label(o) == "silence" and o.span]
    covered = sum(o.span.overlap(claim.span) for o in silent if o.span is not None)
    if covered >= 0.5 * max(claim.span.duration, 1e-6):
        return ("contradiction" if claim.negated else "agreement"), silent[0], "audio analysis measured silence"
    if claim.negated:
        return None
    speech = _speech(ev, claim.span)
    if speech:
        return "contradiction", speech[0], f"speech was transcribed there (“{_excerpt(speech[0].content, 6)}”)"
    loud = [o for o in ev.by_kind("sound_event") if _label(o) not in _QUIET_LABELS and _overlaps(o, claim.span)]
    if loud:
        return "contradiction", loud[0], f"audio analysis measured {_label(loud[0])}{_when(loud[0].span)}"
    return None


def _check_sound(claim: Claim, ev: Evidence) -> Verdict:
    hints = SOUNDS.get(claim.value, (claim.value,))
    events = [
        o
        for o in ev.observations
        if o.kind in ("sound_event", "sound_tag") and _overlaps(o, claim.span) and _label(o) not in _QUIET_LABELS
    ]
    for o in events:
        named = (_label(o) + " " + o.content).lower()
        if any(h in named for h in hints):
            return ("contradiction" if claim.negated else "agreement"), o, f"{o.tool} measured {_label(o)}"
    if claim.negated or claim.span is None or not coverage.examined(ev, "sound", claim.span):
        return None
    others = [
        o
        for o in events
        if not (o.kind == "sound_tag" and _SPEECH_CLASSES.search(_label(o)))
        and (o.span is None or o.span.overlap(claim.span) >= min(EDGE, claim.span.duration / 2))
    ]
    if others:
        return None  # something was heard there that a model might name so: neither confirmed nor contradicted
    witness = _witness(ev, "sound", claim.span)
    if witness is None:
        return None
    there = "silence" if _label(witness) == "silence" else ("only speech" if _speech(ev, claim.span) else "no sound")
    return "contradiction", witness, f"audio analysis measured {there}{_when(claim.span)}, no sound event"


def _check_quote(claim: Claim, ev: Evidence) -> Verdict:
    kind, aspect = ("text", "text") if claim.medium == "text" else ("speech", "speech")
    said = [
        o for o in ev.by_kind(kind) if not (o.kind == "speech" and o.payload.unconfirmed) and _overlaps(o, claim.span)
    ]
    quote = norm(claim.value)
    best: tuple[float, Observation] | None = None
    for o in said:
        score = fuzz.partial_ratio(quote, norm(o.content)) if len(quote) <= len(norm(o.content)) else 0.0
        score = max(score, fuzz.ratio(quote, norm(o.content)))
        if best is None or score > best[0]:
            best = (score, o)
    if best is not None and best[0] >= QUOTE_MATCH:
        what = "speech recognition heard" if kind == "speech" else "OCR read"
        return "agreement", best[1], f"{what} “{_excerpt(best[1].content)}”"
    examined = coverage.examined(ev, aspect, claim.span) if claim.span is not None else coverage.examined(ev, aspect)
    if best is not None:
        what = "speech recognition heard" if kind == "speech" else "OCR read"
        return "contradiction", best[1], f"{what} “{_excerpt(best[1].content)}” there"
    if examined:
        witness = _witness(ev, aspect, claim.span)
        if witness is not None:
            nothing = "no speech was transcribed" if kind == "speech" else "no on-screen text was read"
            return "contradiction", witness, f"{nothing}{_when(claim.span)}"
    return None


_CHECKS = {
    "voice": _check_voice,
    "voices": _check_voices,
    "topic": _check_topic,
    "music": _check_music,
    "silence": _check_silence,
    "sound": _check_sound,
    "quote": _check_quote,
}


def _witness(ev: Evidence, aspect: str, span: TimeSpan | None) -> Observation | None:
    """An observation of a tool that examined ``aspect`` there: the other side of an absence contradiction."""
    tools = {c.tool for c in coverage.runs(ev, aspect)}
    mine = [o for o in ev.observations if o.tool in tools and o.kind != "description"]
    near = [o for o in mine if span is None or (o.span is not None and o.span.overlap(span) > 0)]
    near.sort(key=lambda o: (_label(o) != "silence", o.span.start if o.span else 0.0))
    return (near or mine or [None])[0]


def _relation(kind: str, claim: Claim, local: Observation, finding: str) -> Relation:
    # every field is of its type already (keys, tool names, the claim's span): built without validating again
    return Relation.model_construct(
        kind=kind,  # type: ignore[arg-type]
        a=local.key,
        b=claim.source,
        tools=(local.tool, claim.tool),
        span=claim.span,
        a_says=finding,
        b_says=claim.clause,
        aspect=claim.aspect,
        note=f"{claim.tool} claims {claim.clause!r} ({claim.aspect}: {claim.value}); {local.tool}: {finding}",
    )


#: Bound of the memos of :func:`relations` (entries; cleared whole when full).
_MEMO_SIZE = 8192
#: A claim's check against the local evidence: claim -> (the local evidence it was checked against, its relation).
_checked: dict[Claim, tuple[tuple[tuple[Observation, ...], tuple[Coverage, ...]], Relation | None]] = {}
#: The agreement of two LLM observers' like claims: (claim, claim) -> relation (it depends on the two claims only).
_paired: dict[tuple[Claim, Claim], Relation] = {}


def _local_evidence(evidence: Evidence) -> tuple[tuple[Observation, ...], tuple[Coverage, ...]]:
    """What a claim's check reads of the board (the ``_check_*`` functions and :mod:`coverage`): the observations
    that are not LLM answers, and the runs that vouch for an aspect or skipped damaged data, in board order."""
    return (
        tuple(o for o in evidence.observations if o.kind != "description"),
        tuple(c for c in evidence.coverage if (c.ok and c.aspects) or c.undecoded),
    )


def _check(claim: Claim, evidence: Evidence) -> Relation | None:
    verdict = _CHECKS[claim.aspect](claim, evidence)
    if verdict is None:
        return None
    kind, local, finding = verdict
    return _relation(kind, claim, local, finding)


def relations(evidence: Evidence, *, memo: bool = True) -> tuple[list[Relation], list[Relation]]:
    """Agreements and contradictions of every LLM claim on the board with the local observers and with the other
    LLM observers' claims.

    The board is checked again whenever it grows (every observer answer), mostly by LLM answers that leave the local
    evidence as it was: with ``memo`` a claim already checked against the same local evidence (equal observations
    and runs, see :func:`_local_evidence`) keeps its relation, and two claims already paired keep theirs; the result
    is the same as without (``memo=False``), which ``tests/core/test_claims.py`` checks.
    """
    agreements: list[Relation] = []
    contradictions: list[Relation] = []
    claims = [c for o in evidence.by_kind("description") for c in extract(o)]
    local = _local_evidence(evidence) if memo else None
    if len(_checked) > _MEMO_SIZE:
        _checked.clear()
    if len(_paired) > _MEMO_SIZE:
        _paired.clear()
    for claim in claims:
        known = _checked.get(claim) if local is not None else None
        if known is not None and known[0] == local:
            rel = known[1]
        else:
            rel = _check(claim, evidence)
            if local is not None:
                _checked[claim] = (local, rel)
        if rel is not None:
            (agreements if rel.kind == "agreement" else contradictions).append(rel)
    by_key = {o.key: o for o in evidence.observations}
    seen: set[tuple[str, str, str, str]] = set()
    alike: dict[tuple[str, str, bool], list[Claim]] = {}
    for claim in claims:
        alike.setdefault((claim.aspect, claim.value, claim.negated), []).append(claim)
    for a in claims:
        for b in alike[(a.aspect, a.value, a.negated)]:
            if a.tool >= b.tool:
                continue
            if a.span is not None and b.span is not None and not a.span.overlaps(b.span, MOMENT):
                continue
            ident = (a.source, b.source, a.clause, a.aspect)
            if ident in seen:
                continue
            seen.add(ident)
            rel = _paired.get((a, b)) if memo else None
            if rel is None:
                # by_key[a.source] is a's observation: the relation reads its key and tool, which a carries
                rel = _relation("agreement", b, by_key[a.source], f"{a.tool} also claims {a.clause!r}")
                if memo:
                    _paired[(a, b)] = rel
            agreements.append(rel)
    return agreements, contradictions


def is_local(rel: Relation, evidence: Evidence) -> bool:
    """True when the relation's first side is a local observer's measurement (not another LLM's answer)."""
    return not any(o.key == rel.a and o.kind == "description" for o in evidence.observations)


@functools.lru_cache(maxsize=_SPLIT_CACHE)
def _ident(clause: str) -> str:
    """What makes two clauses the same clause (times and punctuation aside)."""
    return norm(untimed(clause))


def settle(evidence: Evidence) -> list[Settled]:
    """Every clause of the LLM answers, once (a clause two answers share is one clause), with its verdict."""
    claim_rels: dict[tuple[str, str], list[Relation]] = {}
    for r in evidence.agreements + evidence.contradictions:
        if r.aspect:
            claim_rels.setdefault((r.b, r.b_says), []).append(r)
    describing = {o.key for o in evidence.observations if o.kind == "description"}
    grouped: dict[str, Settled] = {}
    for obs in evidence.by_kind("description"):
        found = _extract(obs.key, obs.tool, obs.content, obs.span, _modality(obs))
        for clause in _clauses(obs.content):
            ident = _ident(clause)
            span = _clause_span(clause, obs.span)
            item = grouped.get(ident)
            if item is None:
                item = grouped[ident] = Settled(clause=clause, sources=[], span=span, status="reported")
            if all(o.key != obs.key for o in item.sources):  # keys, not pydantic's field-by-field equality
                item.sources.append(obs)
            item.claims.extend(c for c in found if c.clause == clause)
            for rel in claim_rels.get((obs.key, clause), ()):
                if rel.kind == "contradiction":
                    item.against.append(rel)
                elif rel.a not in describing:
                    item.support.append(rel)
    for item in grouped.values():
        item.status = "contradicted" if item.against else ("confirmed" if item.support else "reported")
    return sorted(grouped.values(), key=lambda s: s.span.start if s.span else -1.0)
