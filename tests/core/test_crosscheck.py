"""The one cross-check engine: repairs, set-aside speech, doubtful words, and re-checks that never add turns."""

from __future__ import annotations

from detective.evidence.board import EvidenceUpdate, merge
from detective.evidence.crosscheck import UNCLEAR, cross_check, similarity
from detective.models import Coverage, Evidence, Observation, TimeSpan


def sp(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def speech(text: str, a: float, b: float, probs: dict[str, float] | None = None, conf: float = 0.8) -> Observation:
    words = text.split()
    step = (b - a) / len(words)
    payload = {
        "words": [
            {"word": w, "start": a + i * step, "end": a + (i + 1) * step, "probability": (probs or {}).get(w, 0.9)}
            for i, w in enumerate(words)
        ]
    }
    return Observation(tool="asr", kind="speech", content=text, span=sp(a, b), confidence=conf, payload=payload)


def text(content: str, a: float, b: float) -> Observation:
    return Observation(tool="ocr", kind="text", content=content, span=sp(a, b), confidence=0.95)


def silence(a: float, b: float) -> Observation:
    return Observation(
        tool="audio_events", kind="sound_event", content="silence", span=sp(a, b), payload={"label": "silence"}
    )


def test_a_mangled_name_is_repaired_from_the_screen() -> None:
    board = merge(Evidence(), [speech("The League of Park is leading", 1, 3), text("Runner 42: Elena Park", 0.5, 5)])
    check = cross_check(board)
    (said,) = check.corrected.values()
    assert said == "Elena Park is leading"
    (repair,) = check.repairs
    assert (repair.heard, repair.chosen) == ("The League of Park", "Elena Park")
    assert "on-screen text (ocr)" in check.report() and "“League of Park”" not in said


def test_a_labelled_number_is_repaired_and_the_label_keeps_its_case() -> None:
    board = merge(Evidence(), [speech("Runner 40 holds the lead", 1, 3), text("RUNNER 42", 0.5, 5)])
    assert list(cross_check(board).corrected.values()) == ["Runner 42 holds the lead"]


def test_another_name_with_the_same_surname_is_left_alone() -> None:
    board = merge(Evidence(), [speech("we met in central park today", 1, 3), text("Elena Park", 0.5, 5)])
    assert cross_check(board).corrected == {}


def test_names_persist_through_the_clip() -> None:
    board = merge(Evidence(), [text("Elena Park", 0.0, 4.0), speech("What a pace from Lena today", 8, 10)])
    check = cross_check(board)
    assert list(check.corrected.values()) == ["What a pace from Elena today"]
    assert "at another moment" in check.report()


def test_a_name_heard_right_is_never_touched() -> None:
    board = merge(Evidence(), [speech("Elena Park is leading", 1, 3), text("Runner 42: Elena Park", 0.5, 5)])
    check = cross_check(board)
    assert check.corrected == {} and check.repairs == []


def test_doubtful_words_are_marked_unless_another_source_has_them() -> None:
    board = merge(
        Evidence(),
        [speech("call Marcus Webb at noon", 1, 3, {"Webb": 0.1, "noon": 0.12, "at": 0.2}), text("Marcus Webb", 1, 3)],
    )
    assert list(cross_check(board).corrected.values()) == [f"call Marcus Webb {UNCLEAR}"]


def test_speech_over_measured_silence_is_left_out_unless_two_sources_agree() -> None:
    alone = merge(Evidence(), [silence(0, 4), speech("Thank you for watching", 1, 3)])
    check = cross_check(alone)
    assert list(check.rejected) == [alone.by_kind("speech")[0].key]
    backed = merge(Evidence(), [silence(0, 4), speech("Welcome to Lisbon", 1, 3), text("LISBON", 0, 4)])
    assert cross_check(backed).rejected == {}


def test_a_misread_screen_does_not_override_better_supported_speech() -> None:
    # The audio model's quoted words are a transcription of the span: they back the heard form.
    llm = Observation(tool="audio_llm", kind="description", content="A reporter says “live from Paris”.", span=sp(0, 6))
    board = merge(Evidence(), [text("live from parls", 0, 5), speech("We are live from Paris tonight", 1, 3), llm])
    check = cross_check(board)
    assert check.corrected == {}
    assert "2 sources against 1" in check.report()


def test_similarity_hears_as_well_as_reads() -> None:
    assert similarity("Jon Smyth", "John Smith") >= 0.8
    assert similarity("Lena", "Elena") >= 0.85
    assert similarity("mark", "elena") < 0.5


# --- re-checks never add turns ------------------------------------------------------------------------------


def _run(board: Evidence, tool_span: TimeSpan | None, key: str, observations: list[Observation]) -> Evidence:
    stamped = [o.model_copy(update={"query_key": key}) for o in observations]
    ran = Coverage(tool="asr", query_key=key, aspects=("speech",), span=tool_span)
    return merge(board, EvidenceUpdate(observations=stamped, coverage=[ran], answered=[key]))


def test_a_recheck_cannot_add_words_the_broad_pass_never_heard() -> None:
    board = _run(Evidence(), sp(0, 10), "broad", [speech("Good evening everyone", 1, 3)])
    board = _run(board, sp(5, 6), "recheck", [speech("Borrowed in", 5.1, 5.8)])
    invented = [o for o in board.by_kind("speech") if o.payload.unconfirmed]
    assert [o.content for o in invented] == ["Borrowed in"]
    check = cross_check(board)
    assert invented[0].key in check.rejected and "first pass heard no words" in check.report()


def test_a_recheck_confirms_or_corrects_what_the_broad_pass_heard() -> None:
    board = _run(Evidence(), sp(0, 10), "broad", [speech("Good evening everyone", 1, 3, conf=0.4)])
    confirmed = _run(board, sp(0.5, 3.5), "recheck", [speech("Good evening everyone", 1, 3, conf=0.9)])
    (turn,) = confirmed.by_kind("speech")
    assert turn.confidence == 0.9 and turn.payload.confirmed_by
    corrected = _run(board, sp(0.5, 3.5), "recheck", [speech("Good evening, Evelyn", 1, 3, conf=0.9)])
    (turn,) = corrected.by_kind("speech")
    assert turn.content == "Good evening, Evelyn" and turn.payload.corrected_by
    doubted = _run(board, sp(0.5, 3.5), "recheck", [speech("Could even", 1, 3, conf=0.2)])
    (turn,) = doubted.by_kind("speech")
    assert turn.content == "Good evening everyone" and turn.confidence == 0.2


def test_names_are_repaired_from_the_screen_in_any_cased_script() -> None:
    """Accented Latin and Cyrillic names on screen repair what the recogniser spelled wrongly."""
    board = merge(Evidence(), [speech("Hoy habla Jose Munos del mercado", 1, 3), text("José Muñoz", 0.5, 5)])
    assert list(cross_check(board).corrected.values()) == ["Hoy habla José Muñoz del mercado"]
    board = merge(Evidence(), [speech("Сегодня выступает Елена Петрово", 1, 3), text("Елена Петрова", 0.5, 5)])
    assert list(cross_check(board).corrected.values()) == ["Сегодня выступает Елена Петрова"]


def test_speech_heard_but_not_transcribed_is_not_repaired() -> None:
    heard = Observation(
        tool="asr",
        kind="speech",
        content="[untranscribed speech]",
        span=sp(1, 3),
        payload={"words": [], "transcribed": False},
    )
    board = merge(Evidence(), [heard, text("Untranscribed Speech Lab", 0.5, 5)])
    check = cross_check(board)
    assert check.corrected == {} and check.repairs == [] and heard.key not in check.rejected
