"""Build conversation clips with known speaker turns from espeak-ng voices (and music-only, tone and noise clips).

Run as a script (``python observers/speakers/tests/make_conversations.py OUT_DIR``) or import
:func:`build_conversations`. Each clip is a 22.05 kHz mono WAV; ``truth.json`` beside them lists, per clip, the
turns ``{"speaker", "start", "end", "text"}`` (times exact: each utterance is trimmed to its audible extent) and
the number of speakers. Voices differ by espeak-ng variant, pitch and language; turns are short (many under
1.5 s) and go back and forth with pauses of 0.25–0.6 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np

SR = 22050  # espeak-ng's native rate

#: Speaker name -> (espeak-ng voice, pitch 0–99, words per minute). Chosen far apart in the encoder's space:
#: a low male voice (~100 Hz), a high female voice (~250 Hz), another female variant speaking French, and a
#: whispering voice.
VOICES: dict[str, tuple[str, int, int]] = {
    "low": ("en+m3", 20, 160),
    "high": ("en+f3", 80, 170),
    "french": ("fr+steph", 70, 165),
    "whisper": ("en+whisper", 50, 150),
}

LINES = [
    "Hello?",
    "Yes, I can hear you.",
    "Did you get my message?",
    "Not yet.",
    "I sent it this morning, before the meeting started.",
    "Really?",
    "Let me check my inbox again, just a moment.",
    "Okay.",
    "Here it is, I found it now.",
    "Great, thank you.",
    "What time do we leave tomorrow?",
    "At nine.",
    "That is early, but I will be ready.",
    "Good night then.",
    "See you.",
    "The train was late again today.",
]
FRENCH = [
    "Bonjour à tous.",
    "Oui, bien sûr.",
    "Je ne sais pas encore.",
    "Nous partons demain matin.",
    "Merci beaucoup.",
    "C'est une bonne idée.",
]

#: Clip name -> the speaker of each turn, in order (lines are drawn in order from LINES / FRENCH).
CONVERSATIONS: dict[str, str] = {
    "two": "low high low high high low high low high low high low",
    "three": "low high french low french high low high french low high french",
    "four": "low high french whisper high low whisper french low high whisper french high low",
    "one_low": "low low low low low low low low",
    "one_high": "high high high high high high high high",
}


def _speak(text: str, speaker: str, work: Path) -> np.ndarray:
    voice, pitch, speed = VOICES[speaker]
    out = work / "say.wav"
    cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", "150", "-w", str(out), text]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"espeak-ng failed: {' '.join(cmd)}\n{done.stderr}")
    with wave.open(str(out), "rb") as wav:
        if wav.getframerate() != SR:
            raise RuntimeError(f"espeak-ng wrote {wav.getframerate()} Hz, expected {SR}")
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def _write(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(pcm.tobytes())


def _conversation(order: list[str], work: Path, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    english, french = iter(LINES * 4), iter(FRENCH * 4)
    pieces: list[np.ndarray] = [np.zeros(round(0.5 * SR), dtype=np.float32)]
    turns: list[dict[str, Any]] = []
    cursor = pieces[0].size
    for speaker in order:
        text = next(french) if speaker == "french" else next(english)
        voice = _speak(text, speaker, work)
        turns.append(
            {
                "speaker": speaker,
                "start": round(cursor / SR, 3),
                "end": round((cursor + voice.size) / SR, 3),
                "text": text,
            }
        )
        gap = np.zeros(round(rng.uniform(0.25, 0.6) * SR), dtype=np.float32)
        pieces += [voice, gap]
        cursor += voice.size + gap.size
    pieces.append(np.zeros(round(0.5 * SR), dtype=np.float32))
    return np.concatenate(pieces), turns


def _chords(seconds: float) -> np.ndarray:
    """Piano-like chords (harmonics, decaying notes) and a held organ chord: music without a voice."""
    out = []
    progression = [[261.6, 329.6, 392.0], [293.7, 370.0, 440.0], [220.0, 277.2, 329.6], [196.0, 246.9, 293.7]]
    t = np.arange(round(0.5 * SR)) / SR
    for i in range(int(seconds / 0.5 / 2)):
        chord = progression[i % len(progression)]
        out.append(sum((0.25 / k) * np.sin(2 * np.pi * f * k * t) * np.exp(-3 * t) for f in chord for k in range(1, 7)))
    held = np.arange(round(seconds / 2 * SR)) / SR
    out.append(sum(0.12 * np.sin(2 * np.pi * f * held) for f in progression[0]))
    return (np.concatenate(out) * 0.6).astype(np.float32)


def build_conversations(out: Path) -> dict[str, Any]:
    """Write every clip and ``truth.json`` into ``out``; return the truth (with absolute paths)."""
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i, (name, spec) in enumerate(CONVERSATIONS.items()):
            order = spec.split()
            samples, turns = _conversation(order, work, seed=i)
            _write(out / f"{name}.wav", samples)
            truth[name] = {"turns": turns, "speakers": len(set(order)), "duration": round(samples.size / SR, 3)}
        long_order = ["low"] * 40  # a long monologue: about two minutes of one voice
        samples, turns = _conversation(long_order, work, seed=99)
        _write(out / "monologue.wav", samples)
        truth["monologue"] = {"turns": turns, "speakers": 1, "duration": round(samples.size / SR, 3)}
        word = _speak("Hello.", "high", work)
        samples = np.concatenate([np.zeros(SR, dtype=np.float32), word, np.zeros(SR, dtype=np.float32)])
        _write(out / "word.wav", samples)
        truth["word"] = {
            "turns": [{"speaker": "high", "start": 1.0, "end": round(1.0 + word.size / SR, 3), "text": "Hello."}],
            "speakers": 1,
            "duration": round(samples.size / SR, 3),
        }
    music = _chords(12.0)
    _write(out / "music.wav", music)
    truth["music"] = {"turns": [], "speakers": 0, "duration": round(music.size / SR, 3)}
    rng = np.random.default_rng(7)
    t = np.arange(4 * SR) / SR
    noise = np.concatenate(
        [np.zeros(SR), 0.4 * np.sin(2 * np.pi * 440 * t), np.zeros(SR), 0.3 * rng.uniform(-1, 1, 4 * SR), np.zeros(SR)]
    ).astype(np.float32)
    _write(out / "no_speech.wav", noise)
    truth["no_speech"] = {"turns": [], "speakers": 0, "duration": round(noise.size / SR, 3)}
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return with_paths(out, truth)


def with_paths(root: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """``truth`` with each clip's absolute ``path`` added."""
    return {name: {**clip, "path": str(root / f"{name}.wav")} for name, clip in truth.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    build_conversations(Path(sys.argv[1]))
