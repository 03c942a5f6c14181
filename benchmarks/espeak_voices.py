"""Benchmark how well Whisper base hears one language clip's sentences in other espeak-ng renderings.

Usage::

    python benchmarks/espeak_voices.py                       # French: the default voice and its variants, 155 wpm
    python benchmarks/espeak_voices.py fr fr+Denis@115 fr@115  # chosen renderings (voice[+variant][@words a minute])
    python benchmarks/espeak_voices.py --clip de de de+f2@130

Each sentence of the clip (``tests/fixtures/make_language_fixtures.py``) is spoken alone by espeak-ng with each
rendering and decoded by Whisper base (the ``auto`` choice's model for languages other than English) in the
language actually spoken, with the observer's options (beam 5, temperature 0, VAD, word timings). A row gives the
rendering's WER over the clip's sentences (words normalised as the cloze judge does), how many segments the
observer's honesty guards would keep (``is_speech`` and ``reliable``), the language identified per sentence with
its probability, and the start of what was written. It answers whether the fixture's voice, rather than the
model, is what keeps a clip untranscribed; it changes neither the fixture nor the observer.

A variant must follow the language name, not the voice name: this espeak-ng build (1.51) ignores ``fr-fr+m3``
silently (the same samples as ``fr-fr``) but honours ``fr+m3``; ``en-us+m3`` does work.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from languages import _clips, _edit_rate

#: The French renderings tried by default: espeak-ng's voice and a spread of its variants (formant and Klatt).
FRENCH = [
    "fr",
    "fr+klatt",
    "fr+klatt2",
    "fr+klatt3",
    "fr+klatt4",
    "fr+m1",
    "fr+m3",
    "fr+m7",
    "fr+f1",
    "fr+f2",
    "fr+f4",
    "fr+Denis",
    "fr-be",
]


def _speak(rendering: str, text: str, out: Path) -> None:
    """Write ``text`` spoken by ``rendering`` (``voice[+variant][@wpm]``) to ``out``, as the fixture builder does."""
    voice, _, speed = rendering.partition("@")
    cmd = ["espeak-ng", "-v", voice, "-s", speed or "155", "-a", "160", "-w", str(out), text]
    subprocess.run(cmd, check=True, capture_output=True)


def main() -> None:
    """Print one row per rendering."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("renderings", nargs="*", help="voice[+variant][@wpm] (default: French variants)")
    parser.add_argument("--clip", default="fr", help="language clip whose sentences are spoken (default: fr)")
    args = parser.parse_args()
    from detective_asr import model as whisper
    from detective_asr.tool import SAMPLE_RATE, is_speech, reliable
    from detective_cloze.lexical import normalise

    from detective.media import load_audio

    clip = _clips()[args.clip]
    sentences = [(s["language"], s["text"]) for s in clip["speech"]]
    renderings = args.renderings or (FRENCH if args.clip == "fr" else [sentences[0][0]])
    model = whisper.shared(whisper.bundled(whisper.MULTILINGUAL_NAME))
    print(f"{'rendering':18} {'WER':>5} {'kept':>6}  {'identified per sentence':30} text")
    print("-" * 130)
    with tempfile.TemporaryDirectory() as tmp:
        for rendering in renderings:
            errors = words = kept = segments = 0.0
            identified, written = [], []
            for i, (language, text) in enumerate(sentences):
                out = Path(tmp) / f"{i}.wav"
                _speak(rendering, text, out)
                audio = load_audio(str(out), sr=SAMPLE_RATE)
                heard, probability, _ = model.detect_language(audio, vad_filter=True)
                identified.append(f"{heard} {probability:.2f}")
                decoded, _ = model.transcribe(
                    audio,
                    language=language,
                    beam_size=5,
                    temperature=0.0,
                    vad_filter=True,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                )
                decoded = list(decoded)
                segments += len(decoded)
                kept += sum(1 for s in decoded if is_speech(s) and reliable(s))
                hypothesis = " ".join(s.text for s in decoded).strip()
                written.append(hypothesis)
                reference = normalise(text)
                words += len(reference)
                errors += _edit_rate(reference, normalise(hypothesis)) * len(reference)
            rate = errors / max(1.0, words)
            print(
                f"{rendering:18} {rate:5.2f} {int(kept):>2}/{int(segments):<3}  {', '.join(identified):30} "
                f"{' / '.join(written)[:90]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
