"""The cross-check engine: the one place where observations of different tools are compared and reconciled.

Two uses, one set of rules:

- :func:`compare` runs while the evidence board grows (:func:`detective.evidence.board.merge`): it notes agreements and
  contradictions between two observations, which planners read to decide what to re-check.
- :func:`cross_check` runs once when the caption is written: it settles what the board says. Names and numbers
  heard by speech recognition are repaired from text of the same kind only (on-screen text, and the words an
  audio LLM quotes when two sources back them; never an answer's prose, numbers or time stamps), speech reported
  over measured silence is set aside unless another source agrees, a re-check's words that the broad pass never
  heard are set aside, and words the recogniser doubted are marked ``[unclear]``. Every captioner writes from its
  result, so planners and captioners never resolve the same conflict differently.

Matching is fuzzy and phonetic (rapidfuzz ratios, jellyfish Metaphone codes): "Jon Smyth" heard, "John Smith" on
screen; "League of Park" heard, "Elena Park" on screen (a shared surname anchors the name).
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field

import jellyfish
from rapidfuzz import fuzz

from detective.evidence.words import PUNCTUATION as _PUNCT
from detective.evidence.words import comparable_words, fold_accents
from detective.models import Evidence, Observation, Relation, TimeSpan, format_time

#: Observations of these kinds carry words that can be cross-checked.
WORDY_KINDS = {"text", "speech", "description"}
#: Spans closer than this (seconds) count as overlapping when cross-checking.
OVERLAP_TOLERANCE = 0.5
#: Minimum similarity (0–1) for two different terms to be "the same thing, told differently".
SIMILAR = 0.6
#: Words whose recognition probability is below this are marked ``[unclear]`` unless another source confirms them.
DOUBTFUL_WORD = 0.3
#: Share of a speech span that must lie in measured silence before the speech is set aside.
SILENT_SHARE = 0.5
#: The marker written in place of doubtful words.
UNCLEAR = "[unclear]"

_NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*\b")
#: Quoted words ("…" or “…”): in an LLM observer's answer, the only part that is a transcription.
QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
#: A time stamp ("00:12", "1:02:03.5", "3.5 s"): when something happens, never what was said or shown.
TIME_STAMP = re.compile(
    r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)\b|\b(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)\b", re.IGNORECASE
)
#: Capital letters of every cased script (Latin with accents, Greek, Cyrillic, Armenian, …): names are capitalised
#: words in any of them ("José Muñoz", "Елена Петрова").
_UPPER = re.escape("".join(chr(c) for c in range(0x2C00) if chr(c).isupper()))
_WORD = r"(?:[^\W\d_]|['’-])+"
_NAME = re.compile(rf"\b[{_UPPER}]{_WORD}(?:\s+(?:(?:of|de|da|van|von|der|la|le)\s+)?[{_UPPER}]{_WORD})*\b")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "is", "it", "this", "that", "i", "we", "you"}


# --- terms and similarity ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def norm(text: str) -> str:
    """Lower case, punctuation stripped from every word, spaces collapsed
    (:func:`detective.evidence.words.comparable_words`; cached: the cross-check normalises the same terms for every
    pair of observations it compares)."""
    return " ".join(comparable_words(text))


def untimed(text: str) -> str:
    """``text`` without its time stamps: times are when, never what, a source says."""
    return TIME_STAMP.sub(" ", text)


def quoted(text: str) -> list[str]:
    """The quoted passages of ``text``."""
    return [(m.group(1) or m.group(2) or "").strip() for m in QUOTED.finditer(text)]


def transcribed(obs: Observation) -> str:
    """What an observation says word for word: all of a transcript or on-screen text, only the quoted words of an
    LLM observer's answer (its prose is a description, not a transcription)."""
    if obs.kind == "description":
        return " … ".join(q for q in quoted(obs.content) if not TIME_STAMP.fullmatch(q))
    return obs.content


def numeric(term: str) -> bool:
    """True for a number ("42", "3:1", "1,000")."""
    return bool(term) and term.replace(".", "").replace(",", "").replace(":", "").isdigit()


def similarity(a: str, b: str, sound: bool = True) -> float:
    """How alike two terms are, 0–1: the better of their spelling (rapidfuzz) and, with ``sound``, their sound
    (Metaphone) similarity."""
    a, b = norm(a), norm(b)
    if not a or not b:
        return 0.0
    spelled = fuzz.ratio(a, b) / 100.0
    if not sound or numeric(a.replace(" ", "")) or numeric(b.replace(" ", "")):
        return spelled
    if not (a.isascii() and b.isascii()):  # Metaphone codes only Latin letters: compare the spelling, accents off
        return max(spelled, fuzz.ratio(fold_accents(a), fold_accents(b)) / 100.0)
    sa = " ".join(jellyfish.metaphone(w) for w in a.split())
    sb = " ".join(jellyfish.metaphone(w) for w in b.split())
    sounded = fuzz.ratio(sa, sb) / 100.0 if sa and sb else 0.0
    return max(spelled, 0.9 * sounded)


def key_terms(text: str) -> dict[str, str]:
    """Names (runs of capitalised words) and numbers in ``text``: lower-cased term to its form in the text.

    A single capitalised word that opens a sentence is no evidence of a name ("Thank you …") and is skipped.
    """
    return dict(_key_terms(text))


@functools.lru_cache(maxsize=4096)
def _key_terms(text: str) -> tuple[tuple[str, str], ...]:
    """:func:`key_terms` as a tuple, cached: every observation is compared with each new one of a clip, so its
    terms were found again and again (a few per cent of a 10-answer clip's CPU outside calls)."""
    terms = {m.group(0): m.group(0) for m in _NUMBER.finditer(text)}
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        before = text[: match.start()].rstrip()
        if len(words) == 1 and (not before or before[-1] in '.!?…:;"“') and not words[0].isupper():
            continue
        while words and words[0].lower() in _STOP:
            words = words[1:]
        while words and words[-1].lower() in _STOP:
            words = words[:-1]
        if words:
            terms[" ".join(words)] = " ".join(words)
    return tuple((t.lower(), original) for t, original in terms.items() if len(t) >= 3 or numeric(t))


def _comparable(x: str, y: str) -> bool:
    """Numbers compare with numbers, names with names; one form inside the other is a different word."""
    if numeric(x.replace(" ", "")) != numeric(y.replace(" ", "")):
        return False
    return x not in y and y not in x


def overlapping(a: Observation, b: Observation, tolerance: float = OVERLAP_TOLERANCE) -> bool:
    """True when the observations' spans meet (an observation without a span meets everything)."""
    if a.span is None or b.span is None:
        return True
    return a.span.overlaps(b.span, tolerance)


def _joint_span(a: TimeSpan | None, b: TimeSpan | None) -> TimeSpan | None:
    if a is None or b is None:
        return a or b
    return TimeSpan(
        start=max(a.start, b.start) if a.overlap(b) else min(a.start, b.start),
        end=min(a.end, b.end) if a.overlap(b) else max(a.end, b.end),
    )


def _relation(kind: str, a: Observation, b: Observation, span: TimeSpan | None, sa: str, sb: str) -> Relation:
    return Relation(
        kind=kind,  # type: ignore[arg-type]
        a=a.key,
        b=b.key,
        tools=(a.tool, b.tool),
        span=span,
        a_says=sa,
        b_says=sb,
        note=f"{a.tool} ({a.kind}) says {sa!r}; {b.tool} ({b.kind}) says {sb!r}",
    )


def is_silence(obs: Observation) -> bool:
    """True for a sound event that measured silence."""
    return obs.kind == "sound_event" and (obs.payload.label or obs.content).lower() == "silence"


def compare(a: Observation, b: Observation) -> list[Relation]:
    """Agreements and contradictions between two observations of different tools (none when spans are apart)."""
    if a.tool == b.tool or not overlapping(a, b):
        return []
    span = _joint_span(a.span, b.span)
    if {a.kind, b.kind} == {"speech", "sound_event"}:
        event = a if a.kind == "sound_event" else b
        speech = b if event is a else a
        if is_silence(event) and speech.span and event.span and speech.span.overlap(event.span) >= 0.5:
            return [_relation("contradiction", speech, event, span, speech.content, "silence")]
        return []
    if a.kind not in WORDY_KINDS or b.kind not in WORDY_KINDS:
        return []
    if a.kind == b.kind == "description":
        return []  # LLM answers are compared claim by claim (detective.evidence.claims), not by their prose's terms
    relations: list[Relation] = []
    text_a = untimed(a.content) if a.kind == "description" else a.content
    text_b = untimed(b.content) if b.kind == "description" else b.content
    terms_a, terms_b = key_terms(text_a), key_terms(text_b)
    for term in sorted(terms_a):
        if not terms_b:
            break
        best = max(terms_b, key=lambda t: similarity(term, t))
        if term == best:
            relations.append(_relation("agreement", a, b, span, terms_a[term], terms_b[best]))
        elif similarity(term, best) >= SIMILAR and _comparable(term, best):
            relations.append(_relation("contradiction", a, b, span, terms_a[term], terms_b[best]))
    return relations


# --- settling the board -----------------------------------------------------------------------------------


@dataclass
class Repair:
    """A name or number in speech replaced by the form another source shows or says."""

    speech: Observation
    source: Observation
    heard: str
    shown: str
    chosen: str
    reason: str


@dataclass
class CrossCheck:
    """What the board settles: corrected speech, repairs, set-aside observations and what stays open."""

    corrected: dict[str, str] = field(default_factory=dict)
    repairs: list[Repair] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    unresolved: list[Relation] = field(default_factory=list)
    agreements: list[Relation] = field(default_factory=list)
    evidence: Evidence | None = None
    settled: set[str] = field(default_factory=set)

    def said(self, obs: Observation) -> str:
        """What a speech observation says after cross-checking (repaired, doubtful words marked).

        A piece of a board observation that a captioner cut out of it (a speaker turn inside an ASR segment,
        ``payload.split_from``) is settled by the same rules on first use; its repairs are its parent's.
        """
        if obs.key not in self.settled and obs.kind == "speech" and self.evidence is not None:
            self.settled.add(obs.key)
            text = _settle(obs, self.evidence, _shown_names(self.evidence))[0]
            if text != " ".join(obs.content.split()):
                self.corrected[obs.key] = text
        return self.corrected.get(obs.key, " ".join(obs.content.split()))

    def report(self) -> str:
        """The body of a ``## Cross-checks`` section ("" when there is nothing to say)."""
        lines: list[str] = []
        for r in self.repairs:
            when = _when(r.speech.span)
            source = "on-screen text" if r.source.kind == "text" else f"the {r.source.tool} observer"
            moment = "at the same time" if overlapping(r.speech, r.source) else "at another moment"
            lines.append(
                f"{when}speech recognition ({r.speech.tool}) heard “{r.heard}”, while {source} ({r.source.tool}) "
                f"{moment} gives “{r.shown}”. The transcript uses “{r.chosen}”, because {r.reason}."
            )
        lines.extend(self.rejected.values())
        lines.extend(claim_report(self.unresolved))
        for rel in [r for r in self.unresolved if not r.aspect][:10]:
            if "silence" in (rel.a_says, rel.b_says):
                continue  # settled above: the speech was kept (another source agrees) or set aside
            lines.append(
                f"{_when(rel.span)}the observers disagree: {rel.tools[0]} says “{_clip(rel.a_says)}”, "
                f"{rel.tools[1]} says “{_clip(rel.b_says)}”; the caption does not settle it."
            )
        confirmed: dict[str, Relation] = {}
        for rel in self.agreements:
            if not rel.aspect:  # an LLM claim a local observer confirms is stated where it belongs instead
                confirmed.setdefault(rel.a_says, rel)
        if confirmed:
            listed = "; ".join(
                f"“{term}” ({rel.tools[0]} and {rel.tools[1]})" for term, rel in list(confirmed.items())[:12]
            )
            lines.append(f"Confirmed by independent observers: {listed}.")
        return "\n".join(line[0].upper() + line[1:] for line in lines if line)


def claim_report(contradictions: list[Relation]) -> list[str]:
    """One line per LLM claim the local evidence contradicts (the same clause from several models once)."""
    grouped: dict[str, list[Relation]] = {}
    for rel in contradictions:
        if rel.aspect:
            grouped.setdefault(norm(untimed(rel.b_says)), []).append(rel)
    lines = []
    for rels in grouped.values():
        rel = rels[0]
        models = " and ".join(dict.fromkeys(r.tools[1] for r in rels))
        findings = " and ".join(dict.fromkeys(f"{r.a_says} ({r.tools[0]})" for r in rels))
        lines.append(
            f"{_when(rel.span)}{models} claimed “{_clip(rel.b_says, 120)}”, but {findings}: "
            "the claim is left out of the caption."
        )
    return lines


def _when(span: TimeSpan | None) -> str:
    return f"At {format_time(span.start)}–{format_time(span.end)} " if span else ""


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


@dataclass
class _Token:
    text: str
    probability: float | None
    fixed: bool = False  # set by a repair: never marked doubtful
    start: float | None = None
    end: float | None = None


def _tokens(obs: Observation) -> list[_Token]:
    """The words of a speech observation with their probabilities and times, when its word list is its content
    (else its plain words); a word the recogniser wrote twice over the same instant ("find. find") is kept once."""
    listed = [w for w in obs.payload.words or [] if w.word.strip()]
    if not listed or norm(" ".join(w.word for w in listed)).split() != norm(obs.content).split():
        return [_Token(w, None) for w in obs.content.split()]
    tokens: list[_Token] = []
    for w in listed:
        token = _Token(w.word.strip(), w.probability, start=w.start, end=w.end)
        if not (tokens and _echo(tokens[-1], token)):
            tokens.append(token)
    return tokens


def _echo(before: _Token, token: _Token) -> bool:
    """The same word again, starting before the previous one has ended: a decoding artefact, not a repetition."""
    if norm(before.text) != norm(token.text) or before.end is None or token.start is None:
        return False
    return token.start < before.end + 0.02


def _spelled(shown: str, heard: str) -> str:
    """The on-screen form as it should read in a transcript: ALL-CAPS overlays become Title Case."""
    if shown.isupper() and not heard.isupper() and not numeric(shown):
        return string.capwords(shown)
    return shown


def _keep_full_words(heard: str, chosen: str) -> str:
    """Word for word, a heard word the shown one abbreviates stays ("Demonstration" said, "DEMO" shown)."""
    h, c = heard.split(), chosen.split()
    if len(h) != len(c):
        return chosen
    out = []
    for said, shown in zip(h, c, strict=True):
        a, b = norm(said), norm(shown)
        out.append(said if len(a) > len(b) >= 3 and a.startswith(b) else shown)
    return " ".join(out)


def _best_window(tokens: list[_Token], term: str) -> tuple[int, int, float] | None:
    """The run of tokens most like ``term``, with its score; ``None`` when ``term`` is said as shown.

    Runs sharing no word with ``term`` are scored by spelling and sound. A run that shares a word (a surname) is
    scored on the words it does not share, and only when the recogniser took the whole run for a name (every word
    capitalised): "League of Park" heard for "Elena Park" on screen.
    """
    target = norm(term).split()
    if not target:
        return None
    plain = [norm(t.text) for t in tokens]
    best: tuple[int, int, float] | None = None
    for size in range(max(1, len(target) - 1), len(target) + 3):
        for i in range(0, len(tokens) - size + 1):
            window = plain[i : i + size]
            if not all(window) or window[0] in _STOP or window[-1] in _STOP:
                continue
            if window == target:
                return None  # said as shown: nothing to repair
            shared = set(window) & set(target) - _STOP
            first = i
            if not shared:
                score = similarity(" ".join(window), " ".join(target))
            elif len(target) >= 2 and numeric(target[-1]) and window[:-1] == target[:-1] and numeric(window[-1]):
                score = 1.0  # "Runner 40" heard, "Runner 42" shown: the label anchors the number
            elif len(target) >= 2 and len(shared) < len(set(target)) and not numeric(" ".join(target)):
                raw = [t.text.strip(_PUNCT) for t in tokens[i : i + size]]
                if not all(w[:1].isupper() or w.lower() in _STOP for w in raw):
                    continue
                rest_heard = " ".join(w for w in window if w not in shared and w not in _STOP)
                rest_shown = " ".join(w for w in target if w not in shared)
                rest = similarity(rest_heard, rest_shown) if rest_heard else 0.0
                score = 0.5 + 0.5 * rest if rest >= 0.4 else 0.0
                if score and i > 0 and tokens[i - 1].text == "The" and target[0] != "the":
                    first = i - 1  # "The League of Park": the article was part of the mishearing
            else:
                continue
            if best is None or score > best[2]:
                best = (first, i + size, score)
    return best


_LABELLED_NUMBER = re.compile(r"\b[A-Za-z][A-Za-z]+\s+\d+(?:[.,:]\d+)*\b")


def _shown_terms(obs: Observation) -> list[str]:
    """Names and numbers another source spells out: the key terms of its text, and labelled numbers ("Runner 42")."""
    labelled = [m.group(0) for m in _LABELLED_NUMBER.finditer(obs.content)]
    return list(dict.fromkeys([*labelled, *key_terms(obs.content).values()]))


def _authorities(evidence: Evidence, speech: Observation) -> list[Observation]:
    """Observations that may correct this speech, all text of the same kind: on-screen text, then the words the
    audio LLM quotes (another transcription of the span). Never the prose of an answer, its numbers or its times."""
    texts = [o for o in evidence.observations if o.kind == "text" and overlapping(o, speech)]
    llm = [
        o.model_copy(update={"content": transcribed(o)})
        for o in evidence.observations
        if o.kind == "description"
        and "audio" in (o.payload.modality or o.tool)
        and overlapping(o, speech)
        and transcribed(o)
    ]
    return texts + llm


def _supported(term: str, evidence: Evidence, exclude: str) -> int:
    """How many distinct tools other than ``exclude`` report ``term`` word for word (:func:`transcribed`)."""
    pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
    return len({o.tool for o in evidence.observations if o.tool != exclude and pattern.search(transcribed(o))})


def _repair_speech(speech: Observation, evidence: Evidence, tokens: list[_Token]) -> list[Repair]:
    repairs: list[Repair] = []
    for source in _authorities(evidence, speech):
        for term in _shown_terms(source):
            found = _best_window(tokens, term)
            if found is None:
                continue
            i, j, score = found
            heard = " ".join(t.text.strip(_PUNCT) for t in tokens[i:j])
            if source.kind != "text" and TIME_STAMP.search(term):
                continue  # a time stamp is never a word someone said
            threshold = SIMILAR if len(norm(term).split()) >= 2 or numeric(term) else 0.75
            if score < threshold or not _comparable(norm(heard), norm(term)):
                continue
            if _supported(heard, evidence, exclude=speech.tool):
                continue  # another source reports the heard form too: not a mishearing
            if source.kind != "text" and _supported(term, evidence, exclude=speech.tool) < 2:
                continue  # the audio LLM alone does not outvote the recogniser: two sources must back the form
            chosen = _spelled(term, heard)
            if _LABELLED_NUMBER.fullmatch(term):
                chosen = " ".join([*heard.split()[:-1], term.split()[-1]])  # the heard label keeps its case
            chosen = _keep_full_words(heard, chosen)
            why = (
                "a number shown on screen is more reliable than the speech recogniser's spelling"
                if any(numeric(w) for w in term.split()) and source.kind == "text"
                else "a name spelled on screen is more reliable than the speech recogniser's spelling"
                if source.kind == "text"
                else f"“{chosen}” is reported by two independent sources"
            )
            tail = tokens[j - 1].text[len(tokens[j - 1].text.rstrip(_PUNCT)) :]
            lead = tokens[i].text[: len(tokens[i].text) - len(tokens[i].text.lstrip(_PUNCT))]
            tokens[i:j] = [_Token(lead + chosen + tail, 1.0, fixed=True)]
            repairs.append(Repair(speech, source, heard, term, chosen, why))
    repairs.extend(_elsewhere(speech, evidence, tokens))
    repairs.extend(_misread(speech, evidence, {r.source.key for r in repairs}))
    return repairs


#: A capitalised word heard must be at least this like a name shown elsewhere in the clip to take its spelling.
ELSEWHERE_SIMILAR = 0.85


def _elsewhere(speech: Observation, evidence: Evidence, tokens: list[_Token]) -> list[Repair]:
    """Names persist through a clip: a capitalised word heard that is very like one word of a name shown on screen
    at another moment ("Lena" heard at 0:08, "Elena Park" shown at 0:01) takes the on-screen spelling."""
    names: dict[str, Observation] = {}
    for text in evidence.observations:
        if text.kind != "text" or overlapping(text, speech):
            continue
        for term in key_terms(text.content).values():
            words = term.split()
            if len(words) >= 2 and not any(numeric(w) for w in words):
                for word in words:
                    if len(word) >= 4 and word[:1].isupper():
                        names.setdefault(_spelled(word, word.lower()), text)
    repairs = []
    for k, token in enumerate(tokens):
        bare = token.text.strip(_PUNCT)
        if token.fixed or len(bare) < 3 or not bare[:1].isupper() or (k == 0 and bare.lower() in _STOP):
            continue
        for name, text in names.items():
            if bare.lower() == name.lower() or similarity(bare, name) < ELSEWHERE_SIMILAR:
                continue
            if _supported(bare, evidence, exclude=speech.tool):
                continue
            when = f" at {format_time(text.span.start)}–{format_time(text.span.end)}" if text.span else ""
            why = f"the name “{name}” is spelled on screen elsewhere in the clip{when}"
            tokens[k] = _Token(token.text.replace(bare, name), 1.0, fixed=True)
            repairs.append(Repair(speech, text, bare, name, name, why))
            break
    return repairs


def _misread(speech: Observation, evidence: Evidence, settled: set[str]) -> list[Repair]:
    """On-screen text that misspells a name the speech says and more sources back ("parls" for "Paris"): the
    transcript keeps the heard form, and the check is reported."""
    found = []
    for text in (o for o in evidence.observations if o.kind == "text" and overlapping(o, speech)):
        if text.key in settled:
            continue
        shown_tokens = [_Token(w, None) for w in text.content.split()]
        for term in key_terms(speech.content).values():
            window = _best_window(shown_tokens, term)
            if window is None or window[2] < SIMILAR:
                continue
            shown = " ".join(t.text.strip(_PUNCT) for t in shown_tokens[window[0] : window[1]])
            if not _comparable(norm(shown), norm(term)):
                continue
            heard_n = 1 + _supported(term, evidence, exclude=speech.tool)
            shown_n = _supported(shown, evidence, exclude=speech.tool)
            if heard_n > shown_n:
                why = f"“{term}” is reported by {heard_n} sources against {shown_n}"
                found.append(Repair(speech, text, term, shown, term, why))
    return found


def _render(tokens: list[_Token], confirmed: set[str]) -> str:
    out: list[str] = []
    for t in tokens:
        doubtful = (
            not t.fixed
            and t.probability is not None
            and t.probability < DOUBTFUL_WORD
            and norm(t.text) not in confirmed
        )
        if doubtful:
            tail = t.text[len(t.text.rstrip(_PUNCT)) :]
            if out and out[-1].startswith(UNCLEAR):
                out[-1] = UNCLEAR + tail
            else:
                out.append(UNCLEAR + tail)
        else:
            out.append(t.text)
    return " ".join(out)


def _silent_share(speech: Observation, silences: list[TimeSpan]) -> float:
    if speech.span is None or speech.span.duration <= 0:
        return 0.0
    return sum(speech.span.overlap(s) for s in silences) / speech.span.duration


def heard_silences(evidence: Evidence) -> list[TimeSpan]:
    """The measured silences less every stretch where another observer hears something there (a sound event,
    a speaker turn, a sound class other than "Silence"): silence is only silence where nothing is heard. The quiet
    "Hello." that opens pyannote's sample conversation is silence to the level analysis and a sound to the event
    analysis and the voice separation (tests/fixtures/make_real_corpus.py)."""
    heard = [
        o.span
        for o in evidence.observations
        if o.span is not None
        and o.kind in ("sound_event", "speaker", "sound_tag")
        and not is_silence(o)
        and not (o.kind == "sound_event" and (o.payload.label or "").lower() == "background")
        and not (o.kind == "sound_tag" and (o.payload.sound_class or "").strip().lower() == "silence")
    ]
    return [piece for o in evidence.observations if is_silence(o) and o.span for piece in uncovered(o.span, heard)]


def uncovered(span: TimeSpan, covers: list[TimeSpan]) -> list[TimeSpan]:
    """The pieces of ``span`` that none of ``covers`` overlaps, in time order."""
    parts = [(span.start, span.end)]
    for cover in covers:
        parts = [p for a, b in parts for p in ((a, min(b, cover.start)), (max(a, cover.end), b)) if p[1] > p[0]]
    return [TimeSpan(start=a, end=b) for a, b in parts]


def _shown_names(evidence: Evidence) -> set[str]:
    """Words of the names shown on screen anywhere in the clip (names persist through a clip)."""
    return {
        w
        for o in evidence.observations
        if o.kind == "text"
        for term in key_terms(o.content).values()
        if not numeric(term)
        for w in norm(term).split()
        if len(w) >= 3
    }


def _settle(speech: Observation, evidence: Evidence, shown_names: set[str]) -> tuple[str, list[Repair]]:
    """One speech observation as the caption writes it: repaired, and doubtful words marked ``[unclear]``."""
    tokens = _tokens(speech)
    repairs = _repair_speech(speech, evidence, tokens)
    # A doubtful word stays when another source has it: said or shown at the same time, or a name shown on
    # screen anywhere in the clip.
    others = {
        w
        for o in evidence.observations
        if o.kind in WORDY_KINDS and o.tool != speech.tool and overlapping(o, speech)
        for w in norm(transcribed(o)).split()
    } | shown_names
    return _render(tokens, others), repairs


def cross_check(evidence: Evidence) -> CrossCheck:
    """Settle the board for the caption: repairs, set-aside speech, doubtful words, and what stays open."""
    result = CrossCheck(agreements=list(evidence.agreements), evidence=evidence)
    by_key = {o.key: o for o in evidence.observations}
    silences = heard_silences(evidence)
    agreed = {k for rel in evidence.agreements for k in (rel.a, rel.b)}
    shown_names = _shown_names(evidence)
    for speech in evidence.by_kind("speech"):
        result.settled.add(speech.key)
        if speech.payload.unconfirmed:
            when = _when(speech.span)
            result.rejected[speech.key] = (
                f"{when}a re-check by {speech.tool} reported “{_clip(speech.content)}” where its first pass heard no "
                "words; with no other source for them, these words are left out of the transcript."
            )
            continue
        if not speech.payload.transcribed:  # heard, not transcribed: no words to repair or doubt
            continue
        share = _silent_share(speech, silences)
        if share >= SILENT_SHARE and speech.key not in agreed:
            result.rejected[speech.key] = (
                f"{_when(speech.span)}{speech.tool} reported “{_clip(speech.content)}” where audio analysis measured "
                f"silence for {share:.0%} of the span; no other source confirms the words, so they are left out."
            )
            continue
        text, repairs = _settle(speech, evidence, shown_names)
        result.repairs.extend(repairs)
        if text != " ".join(speech.content.split()):
            result.corrected[speech.key] = text
    handled = {(r.speech.key, r.source.key) for r in result.repairs}
    for rel in evidence.contradictions:
        a, b = by_key.get(rel.a), by_key.get(rel.b)
        if a is None or b is None or a.key in result.rejected or b.key in result.rejected:
            continue
        if (rel.a, rel.b) in handled or (rel.b, rel.a) in handled:
            continue
        result.unresolved.append(rel)
    result.repairs.sort(key=lambda r: r.speech.span.start if r.speech.span else 0.0)
    return result
