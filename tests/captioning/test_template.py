"""The template captioner on hand-built evidence that follows the observation conventions."""

from __future__ import annotations

import re

from detective_captioning.format import clock, parse, validate
from detective_captioning.template import TemplateCaptioner

from detective.captioning import CaptionJob
from detective.evidence.board import merge
from detective.models import Caption, Coverage, Evidence, MediaInfo, Observation, StorylineSegment, TimeSpan

#: What each of these tests' observers vouches for when it ran over the whole clip.
ASPECTS = {"shots": ("shots",), "ocr": ("text",), "asr": ("speech",), "audio_events": ("sound",)}


def sp(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def shot(i: int, a: float, b: float) -> Observation:
    return Observation(
        tool="shots", kind="shot", content=f"shot {i + 1}", span=sp(a, b), payload={"index": i, "cut_score": 30.0}
    )


def text(content: str, a: float, b: float, position: str = "bottom", color: str = "white", **extra) -> Observation:
    payload = {"position": position, "color": color, "background": "black", "height_frac": 0.08, "frames": 5}
    payload.update(extra)
    return Observation(tool="ocr", kind="text", content=content, span=sp(a, b), confidence=0.95, payload=payload)


def speech(content: str, a: float, b: float, speaker: str | None = None, conf: float = 0.8) -> Observation:
    payload: dict = {"language": "en", "language_probability": 0.98, "no_speech_prob": 0.01}
    payload["words"] = [{"word": w, "start": a, "end": b, "probability": 0.9} for w in content.split()]
    if speaker:
        payload["speaker"] = speaker
    return Observation(tool="asr", kind="speech", content=content, span=sp(a, b), confidence=conf, payload=payload)


def event(label: str, a: float, b: float, db: float = -20.0, **extra) -> Observation:
    payload = {"label": label, "loudness_db": db, "peak_db": db + 6}
    payload.update(extra)
    return Observation(tool="audio_events", kind="sound_event", content=label, span=sp(a, b), confidence=0.9,
                       payload=payload)  # fmt: skip


def metadata(loudness: float, speech_ratio: float) -> Observation:
    return Observation(
        tool="audio_events",
        kind="metadata",
        content=f"loudness {loudness} dBFS, speech-like {speech_ratio:.0%} of the time",
        payload={"loudness_db": loudness, "speech_ratio": speech_ratio, "silence_ratio": 0.1},
    )


VIDEO = MediaInfo(source="clip.mp4", duration=12.0, has_audio=True, has_video=True, width=640, height=360, fps=25.0)
AUDIO = MediaInfo(source="clip.wav", duration=12.0, has_audio=True)


def video_observations() -> list[Observation]:
    return [
        shot(0, 0.0, 4.0),
        shot(1, 4.0, 8.5),
        shot(2, 8.5, 12.0),
        text("WELCOME TO THE SHOW", 0.5, 3.5, position="top", color="yellow"),
        text("Episode 12", 0.5, 3.5, position="bottom"),
        text("Call 555-0199 now", 9.0, 11.5, position="center", color="red"),
        speech("Good evening and welcome to the show.", 1.0, 3.0),
        speech("Tonight we talk about rivers and the sea.", 5.0, 7.5),
        event("silence", 0.0, 1.0, db=-70.0),
        event("speech-like", 1.0, 3.0, db=-18.0, pace="moderate", pitch_hz=180.0),
        event("tone", 3.2, 4.6, db=-12.0, frequency_hz=880.0),
        event("speech-like", 5.0, 7.5, db=-21.0, pace="fast", pitch_hz=175.0),
        event("broadband noise", 9.5, 10.0, db=-9.0),
        metadata(-23.0, 0.4),
        Observation(
            tool="vision_llm",
            kind="description",
            content="A presenter in a blue jacket stands at a desk.",
            span=sp(4.0, 8.5),
            payload={"model": "qwen3-omni-flash", "question": "Who is on screen?"},
        ),
    ]


def examined(*tools: str) -> list[Coverage]:
    """Successful whole-clip runs of ``tools``."""
    return [Coverage(tool=t, query_key=f"q-{t}", aspects=ASPECTS.get(t, ())) for t in tools]


async def caption_of(
    media: MediaInfo, observations: list[Observation], merged: bool = True, ran: list[Coverage] | None = None
) -> tuple[Caption, str]:
    """The template caption of ``observations``; by default every tool that reported ran over the whole clip."""
    evidence = merge(Evidence(), observations) if merged else Evidence(observations=observations)
    evidence.coverage = examined(*sorted({o.tool for o in observations})) if ran is None else ran
    out = await TemplateCaptioner().caption(CaptionJob(media=media, evidence=evidence))
    assert parse(out.markdown) == out.caption.without_sources(), "the markdown must parse back to the caption"
    assert validate(out.caption, media.duration) == []
    assert out.notes == [] and out.trajectory == []
    return out.caption, out.markdown


def segment_at(caption: Caption, t: float) -> StorylineSegment:
    for seg in caption.storyline:
        if seg.span.start <= t < seg.span.end:
            return seg
    raise AssertionError(f"no storyline segment covers {t}")


async def test_every_observation_appears_at_its_time() -> None:
    observations = video_observations()
    caption, markdown = await caption_of(VIDEO, observations)
    # One storyline paragraph per shot, each naming the cut.
    assert [(s.span.start, s.span.end) for s in caption.storyline] == [(0.0, 4.0), (4.0, 8.5), (8.5, 12.0)]
    assert "4.5 seconds" in caption.storyline[1].text and clock(4.0) in caption.storyline[1].text
    assert clock(8.5) in caption.storyline[2].text
    for obs in observations:
        if obs.span is None or obs.kind == "shot":
            continue
        seg = segment_at(caption, obs.span.start)
        if obs.kind == "text":
            assert f"“{obs.content}”" in seg.text
            assert clock(obs.span.start) in seg.text
        elif obs.kind == "speech":
            assert " ".join(obs.content.split()[:4]) in seg.text
        elif obs.kind == "description":
            # An answer is stated as the observer's report, once, never pasted as fact.
            assert "vision model (qwen3-omni-flash) reports: " + obs.content.rstrip(".").lower() in seg.text.lower()
            assert seg.text.count(obs.content.rstrip(".")[2:]) == 1
        elif obs.kind == "sound_event" and obs.payload.label != "speech-like":
            assert clock(obs.span.start) in seg.text, (obs, seg.text)
    assert "880 Hz tone" in segment_at(caption, 3.2).text
    assert "broadband noise" in segment_at(caption, 9.5).text
    assert "silence" in segment_at(caption, 0.0).text
    # The tone runs over the cut: the next shot says it continues.
    assert "880 Hz tone from the previous stretch continues until 0:04.6" in caption.storyline[1].text
    # Visible text grouped by span, with appearance.
    assert caption.visible_text is not None
    groups = [(g.span.start, g.span.end, [e.text for e in g.elements]) for g in caption.visible_text]
    assert groups == [(0.5, 3.5, ["WELCOME TO THE SHOW", "Episode 12"]), (9.0, 11.5, ["Call 555-0199 now"])]
    appearance = caption.visible_text[0].elements[0].appearance
    assert "yellow" in appearance and "top" in appearance and "8%" in appearance
    # Transcript with state from the audio features.
    assert [(t.span.start, t.content) for t in caption.transcript] == [
        (1.0, "Good evening and welcome to the show."),
        (5.0, "Tonight we talk about rivers and the sea."),
    ]
    assert "moderate pace" in caption.transcript[0].state and "180 Hz" in caption.transcript[0].state
    assert "fast pace" in caption.transcript[1].state and "-21 dBFS" in caption.transcript[1].state
    assert {t.speaker for t in caption.transcript} == {"Speaker 1"}
    overview = next(s.body for s in caption.sections if s.title == "Overview")
    # one speech share, from the recogniser that ran (4.5 s of 12 s), not audio analysis's 40% speech-like
    for fact in ("12.0 seconds", "640×360", "25 fps", "3 shots", "-23.0 dBFS", "38%", "ocr", "vision_llm"):
        assert fact in overview, fact
    assert "40%" not in overview
    assert "## Visible Text" in markdown


async def test_paragraphs_read_as_prose_not_a_log() -> None:
    caption, _ = await caption_of(VIDEO, video_observations())
    for seg in caption.storyline:
        sentences = re.split(r"(?<=[.!?”])\s+(?=[A-Z“])", seg.text)
        assert all(s[0].isupper() or s[0] == "“" for s in sentences), seg.text
        assert "{" not in seg.text and "payload" not in seg.text and "None" not in seg.text
    openings = [seg.text.split(",")[0] for seg in caption.storyline]
    assert len(set(openings)) == len(openings)


async def test_audio_only_has_no_visible_text_and_segments_from_audio() -> None:
    observations = [o for o in video_observations() if o.tool in {"asr", "audio_events"}]
    caption, markdown = await caption_of(AUDIO, observations)
    assert caption.visible_text is None and "## Visible Text" not in markdown
    starts = [s.span.start for s in caption.storyline]
    assert starts[0] == 0.0 and caption.storyline[-1].span.end == 12.0
    assert starts == sorted(starts)
    assert "opens with 1.0 second of silence" in caption.storyline[0].text
    for obs in observations:
        if obs.kind == "speech":
            assert obs.content.split()[0] in segment_at(caption, obs.span.start).text
    assert "880 Hz" in segment_at(caption, 3.2).text
    assert "No speech was transcribed and no sound event was measured" in segment_at(caption, 11.0).text


async def test_silent_video_says_there_is_no_speech() -> None:
    media = VIDEO.model_copy(update={"duration": 6.0})
    observations = [shot(0, 0.0, 6.0), event("silence", 0.0, 6.0, db=-80.0), text("THE END", 1.0, 5.0)]
    caption, markdown = await caption_of(media, observations, ran=examined("shots", "audio_events", "ocr", "asr"))
    assert caption.transcript == [] and caption.speakers == []
    assert "No speech was transcribed (by asr)." in markdown
    assert "“THE END”" in caption.storyline[0].text
    assert "silence" in caption.storyline[0].text


async def test_video_without_audio_track_and_nothing_observed() -> None:
    media = MediaInfo(source="mute.mp4", duration=5.0, has_video=True)
    caption, markdown = await caption_of(media, [shot(0, 0.0, 5.0)])
    assert caption.visible_text == [] and "On-screen text was not examined" in markdown
    assert "No visible text appears" not in markdown
    assert "no audio track" in caption.storyline[0].text
    assert "speech" not in caption.storyline[0].text.lower()


async def test_empty_evidence_still_gives_a_valid_caption() -> None:
    caption, _ = await caption_of(AUDIO, [])
    assert len(caption.storyline) == 1 and caption.storyline[0].span == sp(0.0, 12.0)
    assert "Speech was not examined" in caption.sections[0].body
    assert "silence" not in caption.storyline[0].text and "No speech" not in caption.storyline[0].text


async def test_distinct_voices_become_speakers() -> None:
    observations = [
        speech("Are you coming with us?", 0.5, 2.0, speaker="SPEAKER_2"),
        speech("Yes, give me a minute.", 2.5, 4.0, speaker="SPEAKER_1"),
        speech("Hurry up then.", 4.5, 5.5, speaker="SPEAKER_2"),
    ]
    caption, _ = await caption_of(AUDIO, observations)
    assert [t.speaker for t in caption.transcript] == ["Speaker 1", "Speaker 2", "Speaker 1"]
    assert [p.name for p in caption.speakers] == ["Speaker 1", "Speaker 2"]
    assert caption.speakers[0].profile.startswith("2 turns")
    assert "Speaker 2" in segment_at(caption, 2.5).text


async def test_description_over_whole_clip_is_attributed() -> None:
    desc = Observation(
        tool="audio_llm",
        kind="description",
        content="Rain falls steadily on a tin roof.",
        payload={"model": "qwen3-omni-flash", "question": "What can be heard?"},
    )
    caption, _ = await caption_of(AUDIO, [desc, event("broadband noise", 0.0, 12.0, db=-30.0)])
    first = caption.storyline[0].text
    assert "audio model (qwen3-omni-flash) reports: Rain falls steadily on a tin roof" in first
    assert "no other observer confirms it" in first  # broadband noise neither confirms rain nor contradicts it


JOHN = [
    shot(0, 0.0, 6.0),
    text("JOHN SMITH", 1.0, 5.0),
    text("Senior Reporter", 1.0, 5.0, color="yellow"),
    speech("Hello, I am Jon Smyth, reporting live.", 1.2, 4.0),
]


async def test_name_conflict_resolved_from_evidence_relations() -> None:
    evidence = merge(Evidence(), JOHN)
    assert evidence.contradictions, "the evidence board notes the conflict"
    media = VIDEO.model_copy(update={"duration": 6.0})
    out = await TemplateCaptioner().caption(CaptionJob(media=media, evidence=evidence))
    caption = out.caption
    assert caption.transcript[0].content == "Hello, I am John Smith, reporting live."
    assert "John Smith" in caption.storyline[0].text and "Jon Smyth" not in caption.storyline[0].text
    cross = next(s.body for s in caption.sections if s.title == "Cross-checks")
    assert "“Jon Smyth”" in cross and "“JOHN SMITH”" in cross and "uses “John Smith”" in cross
    assert cross.count("heard") == 1, "one conflict, reported once"


async def test_name_conflict_found_without_relations() -> None:
    media = VIDEO.model_copy(update={"duration": 6.0})
    caption, _ = await caption_of(media, JOHN, merged=False)
    assert caption.transcript[0].content == "Hello, I am John Smith, reporting live."
    assert any(s.title == "Cross-checks" and "Jon Smyth" in s.body for s in caption.sections)


async def test_number_on_screen_wins() -> None:
    media = VIDEO.model_copy(update={"duration": 6.0})
    observations = [shot(0, 0.0, 6.0), text("Gate 1247", 0.0, 5.0), speech("Please go to gate 1274 now.", 1.0, 3.0)]
    caption, _ = await caption_of(media, observations, merged=False)
    assert caption.transcript[0].content == "Please go to gate 1247 now."
    assert "number shown on screen" in next(s.body for s in caption.sections if s.title == "Cross-checks")


async def test_better_supported_speech_wins_over_misread_text() -> None:
    media = VIDEO.model_copy(update={"duration": 6.0})
    observations = [
        shot(0, 0.0, 6.0),
        text("live from parls", 0.0, 5.0),
        speech("We are live from Paris tonight.", 1.0, 3.0),
        Observation(
            tool="audio_llm", kind="description", content="A reporter says “live from Paris”.", span=sp(0.0, 6.0),
            payload={"model": "m", "question": "q"},
        ),
    ]  # fmt: skip
    evidence = Evidence(observations=observations)
    out = await TemplateCaptioner().caption(CaptionJob(media=media, evidence=evidence))
    assert out.caption.transcript[0].content == "We are live from Paris tonight."
    cross = next(s.body for s in out.caption.sections if s.title == "Cross-checks")
    assert "keeps" not in cross and "uses “Paris”" in cross and "2 sources against 1" in cross


async def test_speech_during_measured_silence_is_flagged() -> None:
    observations = [event("silence", 0.0, 4.0, db=-75.0), speech("Thank you for watching.", 1.0, 3.0)]
    caption, _ = await caption_of(AUDIO, observations)
    cross = next(s.body for s in caption.sections if s.title == "Cross-checks")
    assert "measured silence" in cross and "left out" in cross
    assert caption.transcript == [] and "Thank you" not in " ".join(s.text for s in caption.storyline)


async def test_sentence_opening_word_is_not_taken_for_a_name() -> None:
    media = VIDEO.model_copy(update={"duration": 6.0})
    observations = [shot(0, 0.0, 6.0), text("THANKS FOR WATCHING", 0.0, 5.0), speech("Thank you for watching.", 1, 3)]
    caption, _ = await caption_of(media, observations, merged=False)
    assert caption.transcript[0].content == "Thank you for watching."
    assert all(s.title != "Cross-checks" for s in caption.sections)


async def test_repeated_reports_are_told_once() -> None:
    again = speech("The quick brown fox", 0.5, 2.0, conf=0.7)
    observations = [speech("The quick brown fox.", 0.5, 2.0, conf=0.9), again, speech("A different line.", 3, 4)]
    caption, _ = await caption_of(AUDIO, observations)
    assert [t.content for t in caption.transcript] == ["The quick brown fox.", "A different line."]
    assert caption.storyline[0].text.count("quick brown fox") == 1


def _heard(content: str, a: float, b: float, **payload) -> Observation:
    words = (
        []
        if payload.get("transcribed") is False
        else [{"word": w, "start": a, "end": b, "probability": 0.9} for w in content.split()]
    )
    return Observation(
        tool="asr", kind="speech", content=content, span=sp(a, b), confidence=0.8, payload={"words": words, **payload}
    )


async def test_a_language_is_named_only_as_the_model_named_it() -> None:
    base = "Whisper base, multilingual (test)"
    observations = [
        _heard("Buenos días a todos", 1.0, 3.0, language="es", language_probability=0.96, language_model=base,
               model=base, transcribed=True),
        _heard("[untranscribed speech]", 5.0, 7.0, language=None, language_probability=0.37, language_model=base,
               model=base, transcribed=False, why=f"{base} could not transcribe it reliably"),
    ]  # fmt: skip
    caption, markdown = await caption_of(AUDIO, observations)
    profile = caption.speakers[0].profile
    assert f"speaks Spanish (identified by {base} with probability 0.96)" in profile
    assert "not identified with confidence" in profile and "1 turn (2.0 s) left untranscribed" in profile
    assert "English" not in markdown
    assert "the words were not transcribed" in markdown
    assert "Speech recognition transcribed 1 segment (4 words" in markdown
    assert "1 segment of speech was heard but left untranscribed" in markdown


async def test_an_english_only_model_states_no_language() -> None:
    note = "not identified: Whisper tiny.en, English only (test) knows only English"
    observations = [_heard("hello there", 1.0, 3.0, language=None, language_note=note, transcribed=True)]
    caption, _ = await caption_of(AUDIO, observations)
    profile = caption.speakers[0].profile
    assert "speaks" not in profile.split(";")[1] and f"language {note}" in profile


def tag(phrase: str, a: float, b: float, conf: float = 0.7) -> Observation:
    payload = {"class": phrase.capitalize(), "phrase": phrase}
    return Observation(tool="audio_tags", kind="sound_tag", content=phrase, span=sp(a, b), confidence=conf,
                       payload=payload)  # fmt: skip


async def test_silence_is_cut_where_something_is_heard() -> None:
    """A measured silence with a quiet "Hello." and a click over it is told only where nothing is heard, and the
    "Hello." the event analysis also heard stays in the transcript."""
    observations = [
        event("silence", 0.0, 7.6, db=-70.0),
        event("sound", 2.4, 2.6, db=-40.0),
        event("sound", 6.7, 7.1, db=-28.0),  # the event analysis hears the quiet "Hello.": it is no silence
        speech("Hello.", 6.7, 7.1),
        speech("I didn't know you were there.", 7.7, 9.5),
    ]
    caption, markdown = await caption_of(AUDIO, observations)
    told = [s for seg in caption.storyline for s in seg.sentences if "silen" in s.text]
    claimed = [tuple(float(x) for x in m) for s in told for m in re.findall(r"0:0(\d\.\d)\D+0:0(\d\.\d)", s.text)]
    assert claimed, markdown
    for a, b in claimed:  # no told silence runs over the click (2.4–2.6) or the "Hello." (6.7–7.1)
        assert b <= 2.4 + 0.05 or a >= 2.6 - 0.05, claimed
        assert b <= 6.7 + 0.05 or a >= 7.1 - 0.05, claimed
    assert "7.6 seconds of silence" not in markdown
    assert caption.transcript[0].content == "Hello."


async def test_unclassified_sound_under_speech_is_not_told() -> None:
    """Narration the ASR transcribed is never also "an unclassified sound"; a sound apart from speech is."""
    observations = [
        speech("All circuits are busy now.", 1.0, 3.0),
        event("sound", 0.9, 3.1, db=-18.0),
        event("sound", 5.0, 5.5, db=-20.0),
    ]
    caption, markdown = await caption_of(AUDIO, observations)
    assert markdown.count("unclassified sound") == 1
    assert "0:05.0" in segment_at(caption, 5.2).text


async def test_music_under_speech_is_told_over_its_whole_run() -> None:
    """The tagger's music, lost for a second under the voice, is one run from the intro to the end."""
    observations = [
        event("sound", 0.0, 3.6, db=-36.0),
        event("speech-like", 4.0, 12.0, db=-20.0),
        tag("music", 0.0, 4.6),
        tag("music", 6.0, 9.5, conf=0.5),
        tag("music", 10.5, 12.0),
        speech("Press 1 to record your unavailable message.", 4.0, 7.2),
        speech("Press 2 to record your busy message.", 7.1, 10.0),
    ]
    _, markdown = await caption_of(AUDIO, observations)
    assert "music is heard from 0:00.0 to 0:12.0, under the speech" in markdown.lower()
    assert markdown.lower().count("music") == 1


async def test_speech_totals_are_unions_and_the_overview_counts_voices_in_words() -> None:
    """Overlapping ASR segments are counted once (never more speech than the clip); "two speakers"."""
    observations = [
        speech("Thank you for calling.", 0.0, 7.0, speaker="S1"),
        speech("If you know your party's extension,", 6.5, 12.0, speaker="S1"),
        speech("Hello.", 11.0, 11.5, speaker="S2"),
    ]
    caption, markdown = await caption_of(AUDIO, observations)
    assert caption.speakers[0].profile.startswith("2 turns, 12.0 s")
    assert "Voice separation finds two speakers." in markdown


async def test_music_is_said_not_judged_only_where_no_sound_classifier_examined_the_audio() -> None:
    """The signal analysis names no music on real music-on-hold, so its silence on music rules nothing out: the
    overview says music was not judged, unless a sound classifier ran or something named music."""
    heard = [speech("Press 1 to record your message.", 1.0, 3.0), event("speech-like", 1.0, 3.0, db=-20.0)]
    unjudged = "Whether music plays could not be judged"
    _, markdown = await caption_of(AUDIO, heard)
    assert unjudged in markdown
    classified = [
        *examined("asr", "audio_events"),
        Coverage(tool="audio_tags", query_key="t", aspects=("sound_classes",)),
    ]
    _, markdown = await caption_of(AUDIO, [*heard, tag("speech", 1.0, 3.0)], ran=classified)
    assert unjudged not in markdown and "music" not in markdown.lower()
    _, markdown = await caption_of(AUDIO, [*heard, event("music-like", 4.0, 9.0, db=-25.0, notes=4)])
    assert unjudged not in markdown and "music-like sound plays" in markdown.lower()
    _, markdown = await caption_of(AUDIO, [event("silence", 0.0, 12.0, db=-80.0)])
    assert unjudged not in markdown  # nothing audible: nothing to judge
