"""Benchmark decoding options of the multilingual Whisper model on the language clips the observer cannot transcribe.

Usage::

    python benchmarks/decoding.py                  # French and Russian (left untranscribed by the observer)
    python benchmarks/decoding.py fr de --ranked 4 # also decode in the 4 languages the identification ranks first
    python benchmarks/decoding.py fr --compute-type float32  # the model unquantised (the observer loads it int8)

Each clip of ``tests/fixtures/make_language_fixtures.py`` is decoded by Whisper base (the ``auto`` choice's model
for languages other than English) in the language actually spoken (an oracle the observer does not have), over the
whole stretch of speech and sentence by sentence (pieces between pauses), with each decoding option below, and with
the language left to the model. A row gives the error rate of everything written (WER on words normalised as the
cloze judge does; CER for Chinese), the error rate and number of the segments the observer's honesty guards would
keep (``is_speech`` and ``reliable``: mean log-probability, compression ratio, digit salad, repetition), the best
mean log-probability and the highest compression ratio of the segments, and the CPU seconds of the decoding.
``--ranked N`` adds, over the whole stretch, the observer's own options in each of the N languages the
identification ranks highest (the languages a "try the next language" rule would try). Nothing here changes the
observer; it measures whether a decoding option could make it transcribe a clip without letting more through its
guards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from languages import _clips, _cpu, _edit_rate

#: Decoding options tried: the observer's own (beam 5, temperature 0), and the usual remedies for Whisper's
#: repetition loops and weak decodings.
OPTIONS: dict[str, dict[str, Any]] = {
    "observer (beam 5, t=0)": {"beam_size": 5, "temperature": 0.0},
    "greedy": {"beam_size": 1, "temperature": 0.0},
    "beam 10": {"beam_size": 10, "temperature": 0.0},
    "beam 5, patience 2": {"beam_size": 5, "temperature": 0.0, "patience": 2.0},
    "temperature fallback": {
        "beam_size": 5,
        "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1.0,
    },
    "repetition penalty 1.2": {"beam_size": 5, "temperature": 0.0, "repetition_penalty": 1.2},
    "no repeated 3-grams": {"beam_size": 5, "temperature": 0.0, "no_repeat_ngram_size": 3},
    "without timestamps": {"beam_size": 5, "temperature": 0.0, "without_timestamps": True},
    "without VAD": {"beam_size": 5, "temperature": 0.0, "vad_filter": False},
    "without word timings": {"beam_size": 5, "temperature": 0.0, "word_timestamps": False},
    "condition on previous": {"beam_size": 5, "temperature": 0.0, "condition_on_previous_text": True},
    "greedy, no VAD or words": {"beam_size": 1, "temperature": 0.0, "vad_filter": False, "word_timestamps": False},
}
#: What every decoding is given unless its options say otherwise (the observer's own settings).
DEFAULTS: dict[str, Any] = {"vad_filter": True, "word_timestamps": True, "condition_on_previous_text": False}
#: A neutral sentence in the clip's language given as Whisper's initial prompt (the row "prompt in the language"):
#: it steers the decoder to the language's spelling, and to more confident words whether they are right or not.
PROMPTS = {
    "fr": "Bonjour. Voici une phrase en français.",
    "ru": "Здравствуйте. Это предложение на русском языке.",
    "de": "Guten Tag. Das ist ein Satz auf Deutsch.",
    "es": "Hola. Esta es una frase en español.",
    "it": "Buongiorno. Questa è una frase in italiano.",
}


def _rate(clip: dict[str, Any], reference: str, hypothesis: str, normalise: Any) -> float:
    if clip["script"] == "han":
        return _edit_rate([c for c in reference if c.isalnum()], [c for c in hypothesis if c.isalnum()])
    return _edit_rate(normalise(reference), normalise(hypothesis))


def _row(
    model: Any,
    clip: dict[str, Any],
    audio: Any,
    spans: list[tuple[int, int]],
    language: str | None,
    options: dict[str, Any],
) -> str:
    """Decode ``spans`` of ``audio`` in ``language`` (``None``: the model's own choice) with ``options``."""
    from detective_asr.tool import SAMPLE_RATE, is_speech, reliable
    from detective_cloze.lexical import normalise

    before = _cpu()
    segments: list[tuple[float, float, Any]] = []
    for a, b in spans:
        decoded, _ = model.transcribe(audio[a:b], language=language, **{**DEFAULTS, **options})
        offset = a / SAMPLE_RATE
        segments.extend((offset + s.start, offset + s.end, s) for s in decoded)
    cpu = _cpu() - before
    everything = " ".join(s.text for _, _, s in segments)
    reference = " ".join(sentence["text"] for sentence in clip["speech"])
    kept = [(start, end, s) for start, end, s in segments if is_speech(s) and reliable(s)]
    covered = [
        sentence["text"]
        for sentence in clip["speech"]
        if any(start < sentence["end"] and end > sentence["start"] for start, end, _ in kept)
    ]
    if kept:
        written = " ".join(s.text for _, _, s in kept)
        kept_rate = f"{_rate(clip, ' '.join(covered), written, normalise):.2f}"
    else:
        kept_rate = "-"
    logprob = max((float(s.avg_logprob) for _, _, s in segments), default=float("nan"))
    compression = max((float(s.compression_ratio) for _, _, s in segments), default=float("nan"))
    return (
        f"{_rate(clip, reference, everything, normalise):6.2f} {kept_rate:>6} {len(kept):>3}/{len(segments):<3} "
        f"{logprob:7.2f} {compression:6.2f} {cpu:6.1f}  {everything.strip()[:70]}"
    )


def main() -> None:
    """Print the table for each clip asked for."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", default=["fr", "ru"], help="clip names (default: fr ru)")
    parser.add_argument("--ranked", type=int, default=0, help="also decode in the N most probable languages")
    parser.add_argument(
        "--compute-type",
        default="int8",
        help="CTranslate2 compute type of the model (default int8, the observer's; float32 is the unquantised one)",
    )
    args = parser.parse_args()
    from detective_asr import ASRTool
    from detective_asr import model as whisper
    from detective_asr.tool import SAMPLE_RATE

    from detective.media import load_audio

    source = whisper.bundled(whisper.MULTILINGUAL_NAME)
    if args.compute_type == "int8":
        model = whisper.shared(source)
    else:
        from faster_whisper import WhisperModel

        whisper.verify(source)
        model = WhisperModel(
            source.location,
            device="cpu",
            compute_type=args.compute_type,
            cpu_threads=whisper.cpu_threads(),
            local_files_only=True,
        )
    clips = _clips()
    tool = ASRTool()
    print(
        f"{'clip':6} {'span':7} {'language':8} {'options':24} {'rate':>6} {'kept':>6} {'segs':>7} "
        f"{'best lp':>7} {'max cr':>6} {'cpu s':>6}  text"
    )
    print("-" * 150)
    for name in args.clips:
        clip = clips[name]
        audio = load_audio(clip["path"], sr=SAMPLE_RATE)
        pieces = tool._pieces(audio)
        if not pieces:
            continue
        spoken = clip["speech"][0]["language"]
        for span, spans in (("whole", [(pieces[0][0], pieces[-1][1])]), ("pieces", pieces)):
            tried = dict(OPTIONS)
            if spoken in PROMPTS:
                prompted = {"beam_size": 5, "temperature": 0.0, "initial_prompt": PROMPTS[spoken]}
                tried["prompt in the language"] = prompted
            for label, options in tried.items():
                row = _row(model, clip, audio, spans, spoken, options)
                print(f"{name:6} {span:7} {spoken:8} {label:24} {row}", flush=True)
            # The language left to the model (Whisper identifies it per decoding window), as an observer without
            # the oracle would decode.
            row = _row(model, clip, audio, spans, None, OPTIONS[next(iter(OPTIONS))])
            print(f"{name:6} {span:7} {'(model)':8} {'language not given':24} {row}", flush=True)
        if args.ranked:
            _, _, ranked = model.detect_language(audio, vad_filter=True)
            for language, probability in sorted(ranked, key=lambda item: -item[1])[: args.ranked]:
                row = _row(model, clip, audio, [(pieces[0][0], pieces[-1][1])], language, OPTIONS[next(iter(OPTIONS))])
                print(f"{name:6} {'whole':7} {language:8} {f'identified {probability:.2f}':24} {row}", flush=True)


if __name__ == "__main__":
    main()
