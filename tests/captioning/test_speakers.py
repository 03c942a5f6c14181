"""Speaker attribution in captions: speech segments take the voice of the speaker turns they overlap."""

from __future__ import annotations

import itertools

from detective_captioning.speakers import attribute_speakers, speaker_reference, untangle, voice_facts
from detective_captioning.template import TemplateCaptioner

from detective.captioning import CaptionJob
from detective.evidence.board import merge
from detective.models import Caption, Evidence, MediaInfo, Observation, TimeSpan

AUDIO = MediaInfo(source="call.wav", duration=12.0, has_audio=True)


def sp(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def words(text: str, a: float, b: float) -> list[dict]:
    """Evenly timed words of ``text`` across ``[a, b]``."""
    parts = text.split()
    step = (b - a) / len(parts)
    return [
        {"word": w, "start": round(a + i * step, 3), "end": round(a + (i + 1) * step, 3), "probability": 0.9}
        for i, w in enumerate(parts)
    ]


def speech(text: str, a: float, b: float, timed: list[dict] | None = None) -> Observation:
    payload = {"language": "en", "language_probability": 0.99, "words": timed or words(text, a, b)}
    return Observation(tool="asr", kind="speech", content=text, span=sp(a, b), confidence=0.9, payload=payload)


def turn(label: str, a: float, b: float, pitch: float, db: float = -20.0) -> Observation:
    return Observation(
        tool="speakers",
        kind="speaker",
        content=f"speaker {label}",
        span=sp(a, b),
        confidence=0.9,
        payload={"speaker": label, "pitch_hz": pitch, "loudness_db": db},
    )


CALL = [
    turn("S1", 0.5, 2.0, 100.0),
    turn("S2", 2.4, 4.0, 250.0, -15.0),
    turn("S1", 4.3, 6.0, 100.0),
]


def test_segments_take_the_overlapping_speaker() -> None:
    out = attribute_speakers([speech("Hello, can you hear me?", 0.5, 2.0), speech("Yes I can.", 2.4, 4.0)], CALL)
    assert [o.payload.speaker for o in out] == ["S1", "S2"]
    assert [o.content for o in out] == ["Hello, can you hear me?", "Yes I can."]


def test_a_segment_is_split_where_the_turn_changes_inside_it() -> None:
    timed = words("Hello there", 0.6, 1.9) + words("hi how are you", 2.5, 3.9) + words("fine", 4.4, 5.0)
    (whole,) = [speech("Hello there hi how are you fine", 0.6, 5.0, timed)]
    out = attribute_speakers([whole], CALL)
    assert [(o.content, o.payload.speaker) for o in out] == [
        ("Hello there", "S1"),
        ("hi how are you", "S2"),
        ("fine", "S1"),
    ]
    assert [(o.span.start, o.span.end) for o in out] == [(0.6, 1.9), (2.5, 3.9), (4.4, 5.0)]
    assert [len(o.payload.words) for o in out] == [2, 4, 1]
    assert {o.payload.split_from for o in out} == {whole.key}


def test_without_turns_or_near_turns_nothing_changes() -> None:
    seg = speech("Far away.", 9.0, 10.0)
    assert attribute_speakers([seg], []) == [seg]
    assert attribute_speakers([seg], CALL)[0].payload.speaker is None
    labelled = seg.model_copy(update={"payload": seg.payload.model_copy(update={"speaker": "SPEAKER_7"})})
    assert attribute_speakers([labelled], CALL) == [labelled]


def test_speaker_reference() -> None:
    order = ["Speaker 1", "Speaker 2", "Speaker 3"]
    assert speaker_reference("Speaker 1", order, []) == "a voice (Speaker 1)"
    assert speaker_reference("Speaker 2", order, ["Speaker 1"]) == "a second voice (Speaker 2)"
    assert speaker_reference("Speaker 3", order, ["Speaker 1", "Speaker 2"]) == "a third voice (Speaker 3)"
    assert speaker_reference("Speaker 1", order, ["Speaker 1", "Speaker 2"]) == "the first speaker again (Speaker 1)"
    assert speaker_reference("Speaker 2", order, ["Speaker 1", "Speaker 2"]) == "Speaker 2"


def test_voice_facts_use_only_the_voices_own_turns() -> None:
    mine = attribute_speakers([speech("Hello, can you hear me?", 0.5, 2.0)], CALL)
    facts = voice_facts(mine, CALL, total_speech=3.1)
    assert facts[0] == "48% of the transcribed speech"
    assert "low-pitched voice (median pitch about 100 Hz" in facts[1]
    assert facts[2] == "speaks at about -20 dBFS"
    assert facts[3].startswith("a fast pace") or facts[3].startswith("a moderate pace")


async def _caption(observations: list[Observation]) -> Caption:
    out = await TemplateCaptioner().caption(CaptionJob(media=AUDIO, evidence=merge(Evidence(), observations)))
    return out.caption


async def test_template_caption_tells_two_voices_apart() -> None:
    observations = [
        *CALL,
        speech("Hello, can you hear me?", 0.5, 2.0),
        speech("Yes, loud and clear.", 2.4, 4.0),
        speech("Good, let us start.", 4.3, 6.0),
    ]
    caption = await _caption(observations)
    assert [t.speaker for t in caption.transcript] == ["Speaker 1", "Speaker 2", "Speaker 1"]
    assert [p.name for p in caption.speakers] == ["Speaker 1", "Speaker 2"]
    low, high = (p.profile for p in caption.speakers)
    assert "low-pitched voice (median pitch about 100 Hz" in low and "250" not in low
    assert "high-pitched voice (median pitch about 250 Hz" in high
    assert "% of the transcribed speech" in low and "no voice separation" not in low
    story = " ".join(s.text for s in caption.storyline)
    assert "a second voice (Speaker 2)" in story
    assert "the first speaker again (Speaker 1)" in story
    assert "the same voice" not in story
    # each transcript turn's state carries its own voice's pitch
    assert "pitch around 250 Hz" in caption.transcript[1].state
    assert "pitch around 100 Hz" in caption.transcript[0].state


async def test_a_turn_far_longer_than_a_segment_gives_its_level_to_the_profile_not_to_the_segment() -> None:
    # one diarised turn under three sentences (a menu read by one voice): its level and pitch were measured over
    # all three, so they are the speaker's (the profile says them), not each sentence's own state
    observations = [
        turn("S1", 0.5, 12.0, 187.0, -19.0),
        speech("Press one to record.", 0.6, 3.0),
        speech("Press two to listen.", 4.0, 7.0),
        speech("Press three to leave.", 8.0, 11.5),
    ]
    caption = await _caption(observations)
    (speaker,) = caption.speakers
    assert "median pitch about 187 Hz" in speaker.profile and "speaks at about -19 dBFS" in speaker.profile
    for segment in caption.transcript:
        assert "dBFS" not in segment.state and "pitch around" not in segment.state, segment.state
        assert "words/s" in segment.state  # its own words' rate stays
    # a turn that is the segment keeps its own measurements (as in the two-voice call above)
    caption = await _caption([turn("S1", 0.5, 3.0, 187.0, -19.0), speech("Press one to record.", 0.6, 3.0)])
    assert "about -19 dBFS" in caption.transcript[0].state and "pitch around 187 Hz" in caption.transcript[0].state


async def test_a_word_measured_only_with_its_neighbours_says_so() -> None:
    # "Goodbye." right after a sentence, both under one turn: nothing was measured of the word alone, so its state
    # is the turn's, said as measured over the turn; one word gives no speaking rate
    observations = [
        turn("S1", 15.8, 18.1, 102.0, -16.0),
        speech("Thank you for watching.", 15.9, 17.5),
        speech("Goodbye.", 17.5, 18.1),
    ]
    caption = await _caption(observations)
    sentence, word = caption.transcript
    assert "about -16 dBFS" in sentence.state and "measured over" not in sentence.state  # the turn is its own
    assert (
        word.state
        == "Loud (about -16 dBFS), pitch around 102 Hz, measured over 0:15.8–0:18.1 with the speech around it"
    )
    assert "words/s" not in word.state


async def test_a_segment_cut_at_a_change_of_voice_keeps_its_repairs_and_cites_its_segment() -> None:
    from detective_captioning.template import TemplateCaptioner

    from detective.captioning import CaptionJob
    from detective.evidence.board import merge
    from detective.models import Evidence, MediaInfo, Observation, TimeSpan

    words = [("The", 1.0), ("League", 1.3), ("of", 1.6), ("Park", 1.8), ("leads.", 2.1), ("Yes", 3.0), ("indeed.", 3.3)]
    speech = Observation(
        tool="asr",
        kind="speech",
        content=" ".join(w for w, _ in words),
        span=TimeSpan(start=1.0, end=3.6),
        confidence=0.8,
        payload={"words": [{"word": w, "start": t, "end": t + 0.25, "probability": 0.9} for w, t in words]},
    )
    turns = [
        Observation(tool="speakers", kind="speaker", content="S1", span=TimeSpan(start=0.9, end=2.5),
                    payload={"speaker": "S1"}),
        Observation(tool="speakers", kind="speaker", content="S2", span=TimeSpan(start=2.8, end=3.7),
                    payload={"speaker": "S2"}),
    ]  # fmt: skip
    shown = Observation(tool="ocr", kind="text", content="Elena Park", span=TimeSpan(start=0.5, end=2.5))
    board = merge(Evidence(), [speech, *turns, shown])
    media = MediaInfo(source="c.mp4", duration=5.0, has_audio=True, has_video=True)
    out = await TemplateCaptioner().caption(CaptionJob(media=media, evidence=board))
    first, second = out.caption.transcript
    assert first.content == "Elena Park leads." and second.content == "Yes indeed."
    keys = {o.key for o in board.observations}
    assert first.sources == [speech.key, shown.key] and second.sources == [speech.key]
    for seg in out.caption.storyline:
        for sentence in seg.sentences:
            assert set(sentence.sources) <= keys


def test_a_word_timed_at_one_instant_at_a_change_of_voice_is_no_turn() -> None:
    """“morning.” timed at an instant (20 ms) inside a short turn of another voice is no zero-length turn of that
    voice: it stays with the words around it."""
    timed = [
        {"word": "Good", "start": 1.0, "end": 1.4, "probability": 0.9},
        {"word": "morning.", "start": 1.84, "end": 1.86, "probability": 0.9},
        {"word": "How", "start": 2.3, "end": 2.6, "probability": 0.9},
        {"word": "are", "start": 2.6, "end": 2.8, "probability": 0.9},
        {"word": "you?", "start": 2.8, "end": 3.3, "probability": 0.9},
    ]
    obs = speech("Good morning. How are you?", 1.0, 3.3, timed)
    turns = [turn("S1", 0.9, 1.5, 120.0), turn("S2", 1.5, 2.2, 220.0), turn("S1", 2.2, 3.4, 120.0)]
    out = attribute_speakers([obs], turns)
    assert [(o.payload.speaker, o.content) for o in out] == [("S1", "Good morning. How are you?")]


def test_pieces_join_words_without_a_space_before_punctuation() -> None:
    """A piece cut at a change of voice writes “8,000”, not “8 ,000”."""
    timed = [
        {"word": "It", "start": 0.5, "end": 0.7, "probability": 0.9},
        {"word": "costs", "start": 0.7, "end": 1.0, "probability": 0.9},
        {"word": "8", "start": 1.0, "end": 1.2, "probability": 0.9},
        {"word": ",000", "start": 1.2, "end": 1.6, "probability": 0.9},
        {"word": "dollars.", "start": 1.6, "end": 2.0, "probability": 0.9},
        {"word": "Wow.", "start": 2.5, "end": 3.0, "probability": 0.9},
    ]
    obs = speech("It costs 8,000 dollars. Wow.", 0.5, 3.0, timed)
    out = attribute_speakers([obs], [turn("S1", 0.4, 2.2, 120.0), turn("S2", 2.2, 3.1, 220.0)])
    assert [o.content for o in out] == ["It costs 8,000 dollars.", "Wow."]


def test_speech_no_voice_turn_covers_is_an_unidentified_speaker_and_no_first_voice() -> None:
    """The quiet "Hello." before the voice separation's first turn is "an unidentified speaker"; the first voice
    told apart is still "a voice (Speaker 1)", not "a second voice"."""
    order = ["Unidentified speaker", "Speaker 1", "Speaker 2"]
    assert speaker_reference("Unidentified speaker", order, []) == "an unidentified speaker"
    assert speaker_reference("Speaker 1", order, ["Unidentified speaker"]) == "a voice (Speaker 1)"
    assert speaker_reference("Speaker 2", order, ["Unidentified speaker", "Speaker 1"]) == "a second voice (Speaker 2)"


def _word(text: str, a: float, b: float) -> dict:
    return {"word": text, "start": a, "end": b, "probability": 0.9}


def test_padded_segments_are_cut_back_to_the_pause_between_their_words() -> None:
    """Spans padded around their words overlap (pyannote's sample: 7.93-9.24 and 8.58-10.38 s, words 0.14 s
    apart): both end at the middle of the pause, and name the board observation they were cut from."""
    first = speech("Oh, hello.", 7.93, 9.24, [_word("Oh,", 8.34, 8.62), _word("hello.", 8.82, 8.84)])
    second = speech("I didn't.", 8.58, 10.38, [_word("I", 8.98, 8.98), _word("didn't.", 8.98, 9.98)])
    a, b = untangle([second, first])
    assert (a.span.start, a.span.end, b.span.start, b.span.end) == (7.93, 8.91, 8.91, 10.38)
    assert (a.content, b.content) == ("Oh, hello.", "I didn't.")
    assert (a.payload.split_from, b.payload.split_from) == (first.key, second.key)


def test_words_heard_twice_over_one_moment_are_told_once() -> None:
    """A segment repeating the earlier one's last words over the same moment loses them; one holding nothing
    else is dropped."""
    first = speech("originally from Chicago.", 16.1, 17.8, words("originally from Chicago.", 16.14, 17.68))
    again = speech(
        "from Chicago. Oh, hi.", 16.8, 19.0, words("from Chicago.", 16.655, 17.68) + words("Oh, hi.", 18.1, 18.9)
    )
    twice = speech("Chicago.", 17.2, 17.7, words("Chicago.", 17.167, 17.68))
    a, b = untangle([first, again, twice])
    assert [a.content, b.content] == ["originally from Chicago.", "Oh, hi."]
    assert b.span.start >= 17.68 and a.span.end <= b.span.start


def test_voices_talking_at_once_and_untimed_segments_keep_their_spans() -> None:
    one = speech("Yes I know.", 1.0, 2.0, [_word("Yes", 1.0, 1.3), _word("I", 1.3, 1.5), _word("know.", 1.5, 2.0)])
    other = speech("No way.", 1.6, 2.6, [_word("No", 1.6, 2.0), _word("way.", 2.0, 2.6)])
    assert untangle([one, other]) == [one, other]
    bare = [o.model_copy(update={"payload": {}}) for o in (one, other)]
    assert untangle(bare) == bare


async def test_shares_of_the_speech_add_up_to_a_hundred_percent() -> None:
    """Padded segments of two voices overlap; each voice's share counts the shared moment once, not twice."""
    turns = [turn("S1", 0.5, 2.2, 100.0), turn("S2", 2.2, 4.0, 250.0)]
    observations = [
        *turns,
        speech("Hello, can you hear me?", 0.4, 2.5, words("Hello, can you hear me?", 0.6, 2.0)),
        speech("Yes I can.", 1.9, 4.0, words("Yes I can.", 2.4, 3.8)),
    ]
    caption = await _caption(observations)
    shares = [int(p.profile.split("% of the transcribed speech")[0].rsplit(" ", 1)[1]) for p in caption.speakers]
    assert len(shares) == 2 and 99 <= sum(shares) <= 101, shares
    ends = [(t.span.start, t.span.end) for t in caption.transcript]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ends)), ends
