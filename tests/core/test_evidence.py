"""Evidence board: merge, dedupe, agreements and contradictions."""

from detective.evidence.board import EvidenceUpdate, compare, key_terms, merge, reduce_evidence
from detective.models import Evidence, Observation, TimeSpan


def obs(tool: str, kind: str, content: str, start: float, end: float, conf: float | None = None) -> Observation:
    return Observation(tool=tool, kind=kind, content=content, span=TimeSpan(start=start, end=end), confidence=conf)


def test_key_terms_finds_names_and_numbers() -> None:
    assert key_terms("Welcome to Episode 42 with John Smith").items() >= {("42", "42"), ("john smith", "John Smith")}
    assert "the" not in key_terms("The")


def test_merge_dedupes_and_keeps_the_more_confident() -> None:
    a = obs("ocr", "text", "Episode 42", 1, 3, 0.81)
    b = obs("ocr", "text", "episode  42", 1.02, 3.01, 0.97)
    board = merge(Evidence(), [a])
    board = merge(board, [b])
    assert len(board.observations) == 1
    assert board.observations[0].confidence == 0.97


def test_contradiction_between_asr_and_ocr_on_overlapping_spans() -> None:
    board = merge(Evidence(), [obs("ocr", "text", "John Smith", 1, 3, 0.95)])
    board = merge(board, [obs("asr", "speech", "My name is Jon Smyth.", 1.5, 2.5, 0.8)])
    assert len(board.contradictions) == 1
    rel = board.contradictions[0]
    assert {rel.a_says, rel.b_says} == {"John Smith", "Jon Smyth"}
    assert rel.span is not None and rel.span.start == 1.5


def test_no_relation_when_spans_are_apart_or_same_tool() -> None:
    a = obs("ocr", "text", "John Smith", 0, 1)
    assert compare(a, obs("asr", "speech", "Jon Smyth", 5, 6)) == []
    assert compare(a, obs("ocr", "text", "Jon Smyth", 0, 1)) == []


def test_agreement_when_both_sources_say_the_same() -> None:
    board = merge(Evidence(), [obs("ocr", "text", "Episode 42", 0, 4)])
    board = merge(board, [obs("asr", "speech", "This is episode 42.", 1, 3)])
    assert [r.a_says for r in board.agreements] == ["42"]
    assert board.contradictions == []


def test_speech_during_silence_is_a_contradiction() -> None:
    silence = Observation(
        tool="audio_events",
        kind="sound_event",
        content="silence",
        payload={"label": "silence"},
        span=TimeSpan(start=0, end=4),
    )
    board = merge(Evidence(), [silence, obs("asr", "speech", "hello there", 1, 3)])
    assert len(board.contradictions) == 1


def test_reducer_replaces_with_evidence_and_merges_updates() -> None:
    board = reduce_evidence(None, EvidenceUpdate(observations=[obs("a", "text", "X", 0, 1)], answered=["k"]))
    board = reduce_evidence(board, EvidenceUpdate(answered=["k", "j"]))
    assert board.answered == ["k", "j"]
    assert reduce_evidence(board, Evidence()).observations == []


def test_a_recheck_of_the_same_text_folds_into_one_observation_with_the_union_span() -> None:
    board = merge(Evidence(), [obs("ocr", "text", "OMNI DETECTIVE DEMO", 1.0, 5.0, 0.95)])
    board = merge(board, [obs("ocr", "text", "OMNI DETECTIVE DEMO", 0.72, 3.77, 0.97)])
    assert len(board.observations) == 1
    only = board.observations[0]
    assert (only.span.start, only.span.end, only.confidence) == (0.72, 5.0, 0.97)
    board = merge(board, [obs("ocr", "text", "OMNI DETECTIVE DEMO", 9.0, 10.0, 0.9)])
    assert len(board.observations) == 2  # shown again later: a separate appearance


def test_relations_follow_an_observation_whose_span_grows() -> None:
    board = merge(Evidence(), [obs("ocr", "text", "John Smith", 1.0, 5.0, 0.95)])
    board = merge(board, [obs("asr", "speech", "My name is Jon Smyth.", 1.5, 2.5, 0.8)])
    board = merge(board, [obs("ocr", "text", "John Smith", 0.7, 3.8, 0.97)])
    keys = {o.key for o in board.observations}
    assert len(board.contradictions) == 1
    assert {board.contradictions[0].a, board.contradictions[0].b} <= keys
