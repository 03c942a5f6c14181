"""The ``asr`` observer on the fixture speech: word error rate, segment times, spans and model checks."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detective_asr import ASRTool, split_words
from detective_asr import model as whisper
from detective_asr.tool import Word, frame_rms, snap_to_voice

from detective.media import probe
from detective.models import Query, TimeSpan
from detective.testing import ToolTests
from detective.tools import ToolError


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance over the reference length."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def test_wer_helper() -> None:
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("the cat sat", "the bat sat down") == pytest.approx(2 / 3)
    assert wer("a b c d", "") == 1.0


@pytest.fixture(scope="session")
def asr_results(fixture_media: dict[str, Any]) -> dict[str, list[Any]]:
    """ASR observations of the fixture clips with speech, computed once."""
    tool = ASRTool()
    return {
        name: tool.observe(probe(fixture_media["clips"][name]["path"]), Query(tool="asr"))
        for name in ("scene", "speech")
    }


def test_word_error_rate_within_15_percent(fixture_media: dict[str, Any], asr_results: dict[str, list[Any]]) -> None:
    errors = total = 0.0
    for name, observations in asr_results.items():
        reference = " ".join(s["text"] for s in fixture_media["clips"][name]["speech"])
        hypothesis = " ".join(o.content for o in sorted(observations, key=lambda o: o.span.start))
        count = len(words_of(reference))
        errors += wer(reference, hypothesis) * count
        total += count
    assert errors / total <= 0.15, f"WER {errors / total:.3f}"


@pytest.mark.parametrize("clip", ["scene", "speech"])
def test_segments_match_the_sentences_in_time(
    clip: str, fixture_media: dict[str, Any], asr_results: dict[str, list[Any]]
) -> None:
    observations = sorted(asr_results[clip], key=lambda o: o.span.start)
    sentences = fixture_media["clips"][clip]["speech"]
    assert len(observations) == len(sentences)
    for obs, sentence in zip(observations, sentences, strict=True):
        assert abs(obs.span.start - sentence["start"]) <= 0.5, (obs.content, obs.span, sentence)
        assert abs(obs.span.end - sentence["end"]) <= 0.5, (obs.content, obs.span, sentence)
        assert obs.kind == "speech" and 0.0 < obs.confidence <= 1.0
        assert obs.payload.language == "en"
        assert 0.0 <= obs.payload.no_speech_prob <= 1.0
        words = obs.payload.words
        assert words and all(obs.span.start - 0.5 <= w.start <= w.end <= obs.span.end + 0.5 for w in words)
        assert " ".join(w.word for w in words) == obs.content


def test_span_arguments_give_clip_times(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    second = clip["speech"][1]
    query = Query(tool="asr", arguments={"start": 5.5, "end": 10.0})
    (obs,) = ASRTool().observe(probe(clip["path"]), query)
    assert wer(second["text"], obs.content) <= 0.2
    assert abs(obs.span.start - second["start"]) <= 0.5 and abs(obs.span.end - second["end"]) <= 0.5
    assert obs.payload.words[0].start >= 5.5


def test_silence_gives_nothing(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["speech"]
    tone = clip["tones"][0]
    assert (
        ASRTool().observe(
            probe(clip["path"]), Query(tool="asr", span=TimeSpan(start=tone["end"] + 0.2, end=tone["end"] + 0.7))
        )
        == []
    )


def test_a_clip_without_audio_does_not_apply(fixture_media: dict[str, Any]) -> None:
    media = probe(fixture_media["clips"]["silent"]["path"])
    tool = ASRTool()
    assert not tool.applies_to(media)
    with pytest.raises(ToolError, match="no audio"):
        tool.observe(media, Query(tool="asr"))


def test_bundled_model_matches_its_pinned_sha256() -> None:
    source = whisper.resolve(None)
    assert source.sha256 == whisper.BUNDLED_MODEL_SHA256
    assert whisper.sha256_of(Path(source.location) / "model.bin") == whisper.BUNDLED_MODEL_SHA256


def test_loading_never_reaches_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    import faster_whisper.transcribe
    import tokenizers
    from faster_whisper.utils import get_assets_path

    def no_hub(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("tried to fetch from the Hugging Face hub")

    monkeypatch.setattr(faster_whisper.transcribe, "download_model", no_hub)
    monkeypatch.setattr(tokenizers.Tokenizer, "from_pretrained", no_hub)
    model = whisper.load(whisper.resolve(None))  # a fresh load, never the process's shared copy
    assert not model.model.is_multilingual  # tiny.en
    assert (Path(get_assets_path()) / "silero_vad_v6.onnx").is_file()  # VAD weights ship in the wheel


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    bundled = whisper.bundled_model_dir()
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((bundled / name).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"not the model")
    source = whisper.ModelSource(str(tmp_path), True, whisper.BUNDLED_MODEL_SHA256, "tiny.en")
    with pytest.raises(ToolError, match=r"sha256 .* expected 1a5afae0"):
        whisper.load(source)


def test_the_multilingual_model_is_joined_once_and_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(whisper.ENV_CACHE, str(tmp_path))
    folder = whisper.base_model_dir()
    assert folder.parent == tmp_path and whisper.sha256_of(folder / "model.bin") == whisper.BASE_MODEL_SHA256
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert whisper.base_model_dir() == folder and (folder / "model.bin").stat().st_mtime_ns == stamp  # joined once
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    source = whisper.bundled(whisper.MULTILINGUAL_NAME)
    assert source.multilingual and source.sha256 == whisper.BASE_MODEL_SHA256 and "MIT" in whisper.BASE_LICENCE


def test_a_join_with_the_wrong_sha256_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(whisper.ENV_CACHE, str(tmp_path))
    monkeypatch.setattr(whisper, "BASE_MODEL_SHA256", "0" * 64)
    with pytest.raises(ToolError, match="expected 0000"):
        whisper.base_model_dir()
    assert not list(tmp_path.rglob("model.bin*"))


def test_model_choice_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_media: dict[str, Any]
) -> None:
    monkeypatch.delenv(whisper.ENV_MODEL, raising=False)
    assert whisper.choice(None) == whisper.AUTO and whisper.choice("base") == "base"
    monkeypatch.setenv(whisper.ENV_MODEL, "tiny.en")
    assert whisper.resolve(None).sha256 == whisper.BUNDLED_MODEL_SHA256
    monkeypatch.setenv(whisper.ENV_MODEL, str(whisper.bundled_model_dir()))
    source = whisper.resolve(None)
    assert source.is_dir and source.sha256 is None
    monkeypatch.setenv(whisper.ENV_MODEL, str(tmp_path / "nowhere"))
    with pytest.raises(ToolError, match="does not exist"):
        whisper.resolve(None)
    for name in ("model.bin", "config.json"):
        (tmp_path / name).write_bytes(b"{}")
    with pytest.raises(ToolError, match=r"has no tokenizer\.json"):  # faster-whisper would fetch one
        whisper.verify(whisper.ModelSource(str(tmp_path), True))
    # a name is only looked up in the local cache: an uncached one fails with advice, never downloads
    with pytest.raises(ToolError, match="never downloaded"):
        ASRTool(model="some-uncached-model").observe(probe(fixture_media["clips"]["speech"]["path"]), Query(tool="asr"))


def test_openmp_threads_are_told_to_sleep_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    monkeypatch.delitem(sys.modules, "ctranslate2", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    whisper.quiet_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    whisper.quiet_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_split_words_at_pauses_and_length() -> None:
    words = [Word(f"w{i}", t, t + 0.3, 0.9) for i, t in enumerate([0.0, 0.4, 0.8, 2.0, 2.4])]
    assert [[w.word for w in p] for p in split_words(words)] == [["w0", "w1", "w2"], ["w3", "w4"]]
    long = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.4, 0.9) for i in range(40)]  # 20 s without a pause
    pieces = split_words(long, max_seconds=12.0)
    assert len(pieces) == 2 and all(p[-1].end - p[0].start <= 12.0 for p in pieces)


def test_snap_to_voice_moves_an_early_start() -> None:
    sr = 16000
    audio = np.zeros(sr * 3, dtype=np.float32)
    audio[sr : 2 * sr] = 0.3 * np.sin(np.arange(sr) * 0.2)  # voice from 1.0 s to 2.0 s
    rms = frame_rms(audio, sr)
    start, end = snap_to_voice(rms, 0.01, start=0.7, end=2.2, first_end=1.3, last_start=1.7)
    assert start == pytest.approx(1.0, abs=0.02) and end == pytest.approx(2.0, abs=0.02)
    # no voice near the edges: the words' own times are kept
    assert snap_to_voice(np.zeros(300), 0.01, 0.7, 2.2, 1.3, 1.7) == (0.7, 2.2)


def test_long_spans_are_transcribed_window_by_window(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    media = probe(clip["path"])
    tool = ASRTool(window=4.0)  # 16 s clip: several windows, each cut at a quiet moment
    windows = tool._windows(media.path, TimeSpan(start=0.0, end=media.duration))
    assert len(windows) >= 3 and windows[0][0] == 0.0 and windows[-1][1] == media.duration
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    for _, cut in windows[:-1]:  # no cut falls inside a spoken sentence
        assert not any(s["start"] + 0.05 < cut < s["end"] - 0.05 for s in clip["speech"]), cut
    observations = tool.observe(media, Query(tool="asr"))
    hypothesis = " ".join(o.content for o in sorted(observations, key=lambda o: o.span.start))
    reference = " ".join(s["text"] for s in clip["speech"])
    assert wer(reference, hypothesis) <= 0.15


def test_words_whisper_invents_over_silence_are_dropped() -> None:
    """Without VAD, tiny.en says " You" over pure silence; Whisper's own signals mark it, and the tool drops it."""
    from detective_asr.tool import is_speech

    model = whisper.shared(whisper.resolve(None))
    segments, _ = model.transcribe(
        np.zeros(16000 * 3, dtype=np.float32), beam_size=5, vad_filter=False, word_timestamps=True
    )
    invented = [s for s in segments if s.text.strip()]
    assert invented, "the model no longer invents words over silence: this test needs a new trigger"
    assert not any(is_speech(s) for s in invented), [(s.text, s.no_speech_prob, s.avg_logprob) for s in invented]


def test_segments_carry_whispers_own_signals(asr_results: dict[str, list[Any]]) -> None:
    for observations in asr_results.values():
        for obs in observations:
            for key in ("no_speech_prob", "avg_logprob", "compression_ratio"):
                assert isinstance(getattr(obs.payload, key), float), (key, obs.payload)
            assert all(0.0 <= w.probability <= 1.0 for w in obs.payload.words)


class TestASRToolStandard(ToolTests):
    """The standard tests every tool passes (``detective.testing.ToolTests``), on the demo clip."""

    tool_class = ASRTool
    registered_name = "asr"


@pytest.mark.parametrize(
    ("choice", "said"),
    [
        ("auto", ["model choice auto", "Whisper base, multilingual", "identifies the language", "Whisper tiny.en"]),
        ("tiny.en", ["Whisper tiny.en, English only", "sha256 verified"]),
        ("base", ["Whisper base, multilingual", "sha256 verified"]),
    ],
)
def test_doctor_names_the_model_choice(monkeypatch: pytest.MonkeyPatch, choice: str, said: list[str]) -> None:
    """``doctor`` runs each tool's check: it says which model(s) the configured choice uses, checked by sha256."""
    monkeypatch.setenv(whisper.ENV_MODEL, choice)
    detail = ASRTool().check()
    assert all(part in detail for part in said), detail
    assert (choice != "tiny.en") == ("multilingual" in detail)
