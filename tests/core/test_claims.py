"""LLM answers as claims on the board (detective.evidence.claims): split, cross-checked, settled; like-kind repairs."""

from __future__ import annotations

import re

import pytest

from detective.evidence import claims
from detective.evidence.board import merge
from detective.evidence.claims import clauses, extract, settle
from detective.evidence.crosscheck import cross_check
from detective.models import Coverage, Evidence, Observation, TimeSpan

#: The issue's hallucination: the same confident, wrong sentence from the audio and the vision model.
FALSE = (
    "A woman speaks clearly in a quiet room about classical literature; a soft piano plays underneath "
    "from 00:03 and a door closes at 00:12."
)
TRUE = (
    "A man welcomes listeners to the city marathon and says “8,000 runners are taking part”. "
    "A short tone sounds at about 00:07."
)
SAID = "Welcome to the city marathon, where 8,000 runners are taking part in this year's race."


def sp(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def described(content: str, tool: str = "audio_llm") -> Observation:
    return Observation(tool=tool, kind="description", content=content, span=sp(0, 24), payload={"model": "m"})


def marathon(*answers: Observation) -> Evidence:
    """A 24 s board like the issue's clip: one low male voice, measured silences, a tone, no music."""
    words = [
        {"word": w, "start": 0.6 + 0.35 * i, "end": 0.9 + 0.35 * i, "probability": 0.95}
        for i, w in enumerate(SAID.split())
    ]
    local = [
        Observation(tool="asr", kind="speech", content=SAID, span=sp(0.6, 6.8), confidence=0.9,
                    payload={"words": words, "speaker": "S1"}),
        Observation(tool="speakers", kind="speaker", content="speaker S1", span=sp(0.6, 6.8),
                    payload={"speaker": "S1", "pitch_hz": 82.0}),
        Observation(tool="speakers", kind="metadata", content="one speaker", span=sp(0, 24),
                    payload={"num_speakers": 1}),
        Observation(tool="audio_events", kind="sound_event", content="tone", span=sp(6.6, 7.8),
                    payload={"label": "tone", "frequency_hz": 1000.0}),
        Observation(tool="audio_events", kind="sound_event", content="silence", span=sp(7.8, 24.0),
                    payload={"label": "silence"}),
    ]  # fmt: skip
    coverage = [
        Coverage(tool="asr", query_key="q1", aspects=("speech",), span=sp(0, 24)),
        Coverage(tool="audio_events", query_key="q2", aspects=("sound",), span=sp(0, 24)),
        Coverage(tool="speakers", query_key="q3", aspects=("speakers",), span=sp(0, 24)),
    ]
    from detective.evidence.board import EvidenceUpdate

    board = merge(Evidence(), EvidenceUpdate(observations=local, coverage=coverage))
    return merge(board, list(answers))


def test_an_answer_splits_into_timed_claims() -> None:
    assert clauses(FALSE) == [
        "A woman speaks clearly in a quiet room about classical literature",
        "a soft piano plays underneath from 00:03",
        "a door closes at 00:12.",
    ]
    found = {(c.aspect, c.value, c.span.start if c.span else None) for c in extract(described(FALSE))}
    assert found == {
        ("voice", "female", 0.0),
        ("topic", "classical literature", 0.0),
        ("music", "piano", 3.0),
        ("sound", "door", 11.0),
    }
    quotes = [c for c in extract(described(TRUE)) if c.aspect == "quote"]
    assert [(c.value, c.medium) for c in quotes] == [("8,000 runners are taking part", "speech")]


def test_the_same_answer_over_another_span_or_from_another_tool_has_its_own_claims() -> None:
    """Claims are kept per answer (the board re-checks them on every merge): never another answer's span or tool."""
    early = extract(described(FALSE))
    late = extract(described(FALSE).model_copy(update={"span": sp(30, 54)}))
    vision = extract(described(FALSE, tool="vision_llm"))
    assert {c.span.start for c in early if c.aspect == "voice"} == {0.0}
    assert {c.span.start for c in late if c.aspect == "voice"} == {30.0}
    assert {c.tool for c in vision} == {"vision_llm"} and {c.tool for c in early} == {"audio_llm"}
    assert {c.source for c in late} != {c.source for c in early}
    early.clear()  # a caller's list is its own
    assert extract(described(FALSE))


def test_each_false_claim_is_a_contradiction_with_both_sources() -> None:
    board = marathon(described(FALSE), described(FALSE, "vision_llm"))
    claimed = {(r.aspect, r.tools) for r in board.contradictions if r.aspect}
    for tool in ("audio_llm", "vision_llm"):
        assert ("voice", ("speakers", tool)) in claimed  # only an 82 Hz voice was measured
        assert ("topic", ("asr", tool)) in claimed  # the transcript is about a marathon
        assert ("music", ("audio_events", tool)) in claimed  # no music measured from 0:03
        assert ("sound", ("audio_events", tool)) in claimed  # silence measured at 0:12
    # Times in the answers are when, not what: no term of the prose is matched against the transcript's "8,000".
    assert all(r.aspect for r in board.contradictions + board.agreements if "00:" in r.a_says + r.b_says)
    report = cross_check(board).report()
    for clause in clauses(FALSE):
        assert report.count(f"“{clause}”") == 1, report  # both models' identical clause listed once
    assert "vision_llm and audio_llm claimed" in report or "audio_llm and vision_llm claimed" in report
    assert all(s.status == "contradicted" for s in settle(board))


def test_true_claims_are_confirmed_by_the_local_observers() -> None:
    board = marathon(described(TRUE), described(TRUE, "vision_llm"))
    assert not [r for r in board.contradictions if r.aspect]
    confirmed = {(r.aspect, r.tools[0]) for r in board.agreements if r.aspect}
    assert {("voice", "speakers"), ("quote", "asr"), ("sound", "audio_events")} <= confirmed
    assert ("quote", "audio_llm") in confirmed  # the two models agree with each other too
    assert [s.status for s in settle(board)] == ["confirmed", "confirmed"]
    assert all(len(s.sources) == 2 for s in settle(board))  # one clause, two answers


def test_absence_contradicts_only_where_an_observer_examined() -> None:
    answer = described("A soft piano plays underneath from 00:03.")
    unexamined = merge(Evidence(), [answer])
    assert not unexamined.contradictions and settle(unexamined)[0].status == "reported"
    assert [r.aspect for r in marathon(answer).contradictions] == ["music"]


def test_a_transcript_is_never_repaired_from_times_or_prose_of_an_llm_answer() -> None:
    """The issue's "8 ,00:12": two models repeating a paragraph with time stamps must not rewrite the transcript."""
    board = marathon(described(FALSE), described(FALSE, "vision_llm"), described(FALSE + " 8,012 people."))
    check = cross_check(board)
    speech = board.by_kind("speech")[0]
    assert check.said(speech) == SAID
    assert check.repairs == [] and check.corrected == {}


def test_quoted_words_of_the_audio_model_are_a_transcription() -> None:
    """Like kinds: quoted words are another transcription of the span and, backed by a second source, repair."""
    heard = Observation(tool="asr", kind="speech", content="Welcome, Jon Smyth.", span=sp(1, 3), confidence=0.9)
    shown = Observation(tool="ocr", kind="text", content="JOHN SMITH", span=sp(0, 5))
    said = described("A man says “Welcome, John Smith.” at 00:02.")
    check = cross_check(merge(Evidence(), [heard, shown, said]))
    assert check.said(heard) == "Welcome, John Smith."
    prose = described("The host greets John Smith warmly at 00:02.")
    alone = cross_check(merge(Evidence(), [heard, prose]))
    assert alone.said(heard) == "Welcome, Jon Smyth."  # prose is no transcription: nothing to repair from


def test_a_sound_only_touching_the_claimed_moment_does_not_excuse_it() -> None:
    """A door "at 00:05" (4-6 s) over speech alone is contradicted, though a sound tag's window starts at 5.99 s;
    a sound heard well inside that span leaves the claim unjudged."""

    def tagged(start: float) -> Observation:
        return Observation(tool="audio_tags", kind="sound_tag", content="a beep", span=sp(start, start + 2),
                           payload={"sound_class": "Beep, bleep"})  # fmt: skip

    answer = described("A door closes at 00:05.")
    edge = marathon(tagged(5.99), answer)
    assert [(r.aspect, r.tools) for r in edge.contradictions] == [("sound", ("audio_events", "audio_llm"))]
    inside = marathon(tagged(5.0), answer)
    assert not [r for r in inside.contradictions if r.aspect == "sound"]


def test_memoised_relations_are_the_relations_computed_afresh() -> None:
    """claims.relations keeps a claim's check while the local evidence is the same, and its like-claim pairs: on
    boards grown step by step (answers first, then the local observers, a folded report with a new pitch, a run
    that could not decode a span) every step's relations equal the unmemoised function's, as the board holds them."""
    from detective.evidence import claims as claims_module
    from detective.evidence.board import EvidenceUpdate

    def same(board: Evidence) -> None:
        fresh = claims_module.relations(board, memo=False)
        for memo_run in (claims_module.relations(board), claims_module.relations(board)):
            assert [[r.model_dump() for r in side] for side in memo_run] == [
                [r.model_dump() for r in side] for side in fresh
            ]
        held = ([r for r in board.agreements if r.aspect], [r for r in board.contradictions if r.aspect])
        assert [[r.model_dump() for r in side] for side in held] == [[r.model_dump() for r in side] for side in fresh]

    local = marathon()  # the local observers alone
    steps: list[EvidenceUpdate] = [
        EvidenceUpdate(observations=[described(FALSE)]),
        EvidenceUpdate(observations=[described(FALSE, tool="vision_llm")]),
        EvidenceUpdate(observations=[described(TRUE, tool="audio_llm_detail")]),
        EvidenceUpdate(observations=[o for o in local.observations if o.kind != "sound_event"]),
        EvidenceUpdate(coverage=list(local.coverage)),
        EvidenceUpdate(observations=[o for o in local.observations if o.kind == "sound_event"]),
        # the same voice reported again, more confidently and pitched high: folded into the first report
        EvidenceUpdate(
            observations=[
                Observation(
                    tool="speakers",
                    kind="speaker",
                    content="speaker S1",
                    span=sp(0.6, 6.8),
                    confidence=0.99,
                    payload={"speaker": "S1", "pitch_hz": 240.0},
                ),
            ]
        ),
        EvidenceUpdate(
            coverage=[Coverage(tool="audio_events", query_key="q9", undecoded=(("audio", sp(10.0, 14.0)),))]
        ),
    ]
    board = Evidence()
    found = []
    for update in steps:
        board = merge(board, update)
        same(board)
        found.append(len(board.contradictions))
    # the memo cannot have kept the first checks: the answers' false claims are contradicted once the local
    # observers are on the board, and the voice's verdict changes when its report is folded with a high pitch
    assert found[0] == 0 and found[3] > 0
    assert found[6] != found[5]


def test_claims_deferred_to_the_round_s_close_are_the_claims_checked_at_every_answer() -> None:
    """A round's observers defer the claims' check (``defer_claims``); the round's close, an empty update, checks
    them once: the board then holds the relations it would have had if every answer had been checked at once, and
    before the close it holds none of the round's new claim relations (the local cross-checks are noted at once)."""
    from detective.evidence.board import EvidenceUpdate

    local = marathon()
    answers = [described(FALSE), described(FALSE, tool="vision_llm"), described(TRUE, tool="audio_llm_detail")]
    every = deferred = local
    for answer in answers:
        every = merge(every, EvidenceUpdate(observations=[answer]))
        deferred = merge(deferred, EvidenceUpdate(observations=[answer], defer_claims=True))
    assert every.contradictions and not [r for r in deferred.contradictions if r.aspect]
    closed = merge(deferred, EvidenceUpdate())
    for side in ("agreements", "contradictions"):
        assert [r.model_dump() for r in getattr(closed, side)] == [r.model_dump() for r in getattr(every, side)]
    assert [o.key for o in closed.observations] == [o.key for o in every.observations]


def test_keyword_lexicons_match_as_plain_word_patterns() -> None:
    """A lexicon behind its first-letter lookahead finds what ``\\b(?:…)\\b`` finds, capture groups included."""
    body = r"silen(?:t|ce)|no sound|drums?|speak\w*"
    fast, plain = claims._keywords(body), re.compile(rf"\b(?:{body})\b", re.IGNORECASE)
    texts = ["Silence, then DRUMS and a drum.", "no sounds; nosound; speakers speak", "xdrum drumx _drum", "é drum"]
    for text in texts:
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]
    captured = claims._keywords("door|bell", r"(?:e?s)?", capture=True)
    assert [m.group(1) for m in captured.finditer("Doors slam, bells ring, a doorbell")] == ["Door", "bell"]
    with pytest.raises(ValueError, match="start with a letter"):
        claims._keywords(r"\d+|one")
