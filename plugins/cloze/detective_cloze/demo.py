"""A small Omni-Cloze set over the repo's demo clip (``examples/media/demo.mp4``), for an offline end-to-end run.

The blanks are facts of the synthetic clip built by ``tests/fixtures/make_fixtures.py`` (``DEMO``): four 5 s shots
(deep blue gradient, olive green, slate grid, crimson-purple gradient), overlays "OMNI DETECTIVE DEMO", "Chapter
One", "Dr. Ada Lovelace" and "THE END", three espeak-ng sentences, a 1000 Hz tone at 10.8–12.0 s and a white-noise
burst at 12.8–14.0 s.

``predicted_caption`` is NOT a model output: it is :data:`DEMO_CAPTION`, written by hand for this clip, with
deliberate gaps (the slate grid and the crimson-purple background are not described) and one deliberate error (it
calls the 1000 Hz tone 880 Hz), so that scoring shows correct, not-given and wrong blanks.

The three records use three of the accepted input shapes on purpose: upstream's inline options with every gold
field; ``cloze`` as a JSON string with ``[n]`` placeholders and lettered option lists; ``metadata`` as a JSON
string with option dicts and the gold given only as the answer text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from detective_cloze.records import LETTERS

DEMO_VIDEO = "../media/demo.mp4"  # relative to examples/cloze/

DEMO_CAPTION = """\
## Storyline
<00:00.000 - 00:05.000>
The clip opens on a deep blue gradient background. From 0.6 s the words “OMNI DETECTIVE DEMO” appear in large \
white capital letters at the center of the frame. A synthetic, robotic English voice says: “Welcome to the omni \
detective demonstration.” No music plays; it is silent between the words.

<00:05.000 - 00:10.000>
A hard cut leads to a plain olive green background. In the top-left corner, yellow text reads “Chapter One”. The \
same voice continues: “My name is Ada Lovelace, and today we listen carefully.”

<00:10.000 - 00:15.000>
The third shot has a dark background. A name card “Dr. Ada Lovelace” appears at the bottom of the frame, white \
letters on a dark semi-transparent box. A steady 880 Hz tone sounds for about a second, followed by a short burst \
of white noise.

<00:15.000 - 00:20.000>
The last shot shows “THE END” in large white letters at the center. The voice says: “Thank you for watching. \
Goodbye.” The clip is 20 seconds long, cut into four shots, and ends in silence.

## Visible Text
<00:00.600 - 00:04.600>
“OMNI DETECTIVE DEMO”: large white capitals, centered.
<00:05.400 - 00:09.600>
“Chapter One”: yellow, top-left corner.
<00:10.400 - 00:14.600>
“Dr. Ada Lovelace”: white on a dark semi-transparent box, bottom center.
<00:15.600 - 00:19.600>
“THE END”: large white capitals, centered.

## Speakers and Transcript
Speaker profiles:
- Narrator: a single synthetic text-to-speech voice, American English, even pace, flat intonation.

Speaker: Narrator
State: calm, neutral
Content: “Welcome to the omni detective demonstration.”

Speaker: Narrator
State: calm, neutral
Content: “My name is Ada Lovelace, and today we listen carefully.”

Speaker: Narrator
State: calm, neutral
Content: “Thank you for watching. Goodbye.”
"""

# Each blank: (required modality, options A–D, gold letter). The passage has "{n}" where blank n goes.
_RECORDS: list[dict[str, Any]] = [
    {
        "uuid": 1,
        "metadata": {"category": "Science & Technology", "subcategory": "Demo reel: opening"},
        "passage": (
            "The clip opens on a {1} background. Large {2} capital letters at the {3} of the frame read "
            '"OMNI DETECTIVE {4}". A {5} voice speaks in {6}: "Welcome to the omni detective {7}." The title '
            "first appears about {8} into the clip, and the first shot lasts {9} seconds. In the background "
            "there is {10}."
        ),
        "blanks": [
            ("visual", ["plain black", "deep blue gradient", "bright orange", "white paper"], "B"),
            ("visual", ["yellow", "red", "white", "green"], "C"),
            ("visual", ["center", "top-right", "bottom-left", "top"], "A"),
            ("visual", ["LAB", "SHOW", "TOUR", "DEMO"], "D"),
            ("auditory", ["whispering", "synthetic", "singing", "shouting"], "B"),
            ("auditory", ["French", "German", "English", "Spanish"], "C"),
            ("auditory", ["demonstration", "laboratory", "presentation", "celebration"], "A"),
            ("audio-visual", ["3 s", "2 s", "4 s", "0.6 s"], "D"),
            ("visual", ["two", "five", "ten", "fifteen"], "B"),
            ("auditory", ["rock music", "applause", "birdsong", "no music"], "D"),
        ],
    },
    {
        "uuid": 2,
        "metadata": {"category": "Science & Technology", "subcategory": "Demo reel: middle"},
        "passage": (
            'After a cut the background turns {1}, and text in the {2} corner reads "Chapter {3}" in {4}. The voice '
            'says its name is {5} and that "today we {6} carefully". In the next shot a name card with the title '
            "{7} sits at the bottom on a {8}. A steady tone of {9} sounds, then a burst of {10}."
        ),
        "blanks": [
            ("visual", ["navy blue", "olive green", "bright red", "pale grey"], "B"),
            ("visual", ["bottom-right", "center", "top-left", "top-right"], "C"),
            ("visual", ["One", "Two", "Three", "Four"], "A"),
            ("visual", ["white", "red", "blue", "yellow"], "D"),
            ("audio-visual", ["Grace Hopper", "Ada Lovelace", "Marie Curie", "Alan Turing"], "B"),
            ("auditory", ["watch", "measure", "listen", "drive"], "C"),
            ("visual", ["Dr.", "Prof.", "Mr.", "Ms."], "A"),
            ("visual", ["red banner", "green frame", "black box", "white card"], "C"),
            ("auditory", ["440 Hz", "880 Hz", "2000 Hz", "1000 Hz"], "D"),
            ("auditory", ["applause", "white noise", "a dog barking", "a car horn"], "B"),
        ],
    },
    {
        "uuid": 3,
        "metadata": {"category": "Entertainment", "subcategory": "Closing"},
        "passage": (
            'The last shot, on a {1} background, shows "{2}" in large {3} letters. Before it, the third shot '
            'had a {4} background. The voice says "{5}" and then "{6}". The clip is {7} long and is cut into '
            "{8} shots; {9} voice is heard in all. The noise burst happens while the name card {10} is shown."
        ),
        "blanks": [
            ("visual", ["crimson-purple gradient", "olive green", "plain white", "deep blue"], "A"),
            ("visual", ["TO BE CONTINUED", "THE END", "SUBSCRIBE", "FIN"], "B"),
            ("visual", ["yellow", "red", "white", "orange"], "C"),
            ("visual", ["checkerboard", "starfield", "brick wall", "slate grid"], "D"),
            ("auditory", ["Thanks for listening", "Thank you for watching", "See you next time", "Stay tuned"], "B"),
            ("auditory", ["Goodbye", "Cheers", "Farewell", "So long"], "A"),
            ("audio-visual", ["10 seconds", "30 seconds", "20 seconds", "60 seconds"], "C"),
            ("visual", ["two", "three", "six", "four"], "D"),
            ("auditory", ["one", "two", "three", "no"], "A"),
            ("audio-visual", ["Chapter One", "Dr. Ada Lovelace", "THE END", "OMNI DETECTIVE DEMO"], "B"),
        ],
    },
]


def _upstream_record(spec: dict[str, Any], video_path: str) -> dict[str, Any]:
    """Upstream's rendered form: ``[MODALITY] (A: … | … | E: not given)`` inline, every gold field per blank."""
    passage = spec["passage"]
    blanks = []
    for number, (modality, options, gold) in enumerate(spec["blanks"], start=1):
        shown = " | ".join(f"{letter}: {text}" for letter, text in zip(LETTERS, options, strict=True))
        tag = modality.upper()
        passage = passage.replace("{" + str(number) + "}", f"[{tag}] ({shown} | E: not given)")
        index = LETTERS.index(gold)
        blanks.append(
            {
                "id": number,
                "answer": options[index],
                "distractors": [o for i, o in enumerate(options) if i != index],
                "answer_index": index,
                "answer_key": gold,
                "required_modality": modality,
            }
        )
    return {
        "uuid": spec["uuid"],
        "video_path": video_path,
        "cloze": {"passage": passage, "blanks": blanks},
        "metadata": spec["metadata"],
        "predicted_caption": DEMO_CAPTION,
    }


def _port_record(spec: dict[str, Any], video_path: str) -> dict[str, Any]:
    """``cloze`` as a JSON string, ``[n]`` placeholders, lettered option lists, ``index`` ids, ``answer_key``."""
    passage = spec["passage"]
    blanks = []
    for number, (modality, options, gold) in enumerate(spec["blanks"], start=1):
        passage = passage.replace("{" + str(number) + "}", f"[{number}]")
        blanks.append(
            {
                "index": number,
                "options": [f"{letter}: {text}" for letter, text in zip(LETTERS, options, strict=True)],
                "answer_key": gold,
                "required_modality": modality,
            }
        )
    return {
        "uuid": spec["uuid"],
        "video_path": video_path,
        "cloze": json.dumps({"passage": passage, "blanks": blanks}, ensure_ascii=False),
        "metadata": spec["metadata"],
        "predicted_caption": DEMO_CAPTION,
    }


def _dict_record(spec: dict[str, Any], video_path: str) -> dict[str, Any]:
    """``metadata`` as a JSON string, ``[BLANK n]`` placeholders, option dicts, gold as the answer text only."""
    passage = spec["passage"]
    blanks = []
    for number, (modality, options, gold) in enumerate(spec["blanks"], start=1):
        passage = passage.replace("{" + str(number) + "}", f"[BLANK {number}]")
        blanks.append(
            {
                "options": dict(zip(LETTERS, options, strict=True)),
                "answer": options[LETTERS.index(gold)],
                "required_modality": modality,
            }
        )
    return {
        "uuid": spec["uuid"],
        "video_path": video_path,
        "cloze": {"passage": passage, "blanks": blanks},
        "metadata": json.dumps(spec["metadata"], ensure_ascii=False),
        "predicted_caption": DEMO_CAPTION,
    }


def demo_records(video_path: str = DEMO_VIDEO) -> list[dict[str, Any]]:
    """The demo cloze records (30 blanks over 3 records), each with the hand-written caption."""
    builders = (_upstream_record, _port_record, _dict_record)
    return [build(spec, video_path) for build, spec in zip(builders, _RECORDS, strict=True)]


def demo_clip() -> Path | None:
    """The repo's demo clip when this package runs from a checkout, else ``None``."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "examples" / "media" / "demo.mp4"
        if candidate.exists():
            return candidate
    return None


def write_demo(out_dir: str | Path) -> Path:
    """Write ``demo_cloze.jsonl`` into ``out_dir``, its ``video_path`` relative to ``out_dir``.

    Inside the checkout the clip holds (``examples/cloze``), the path leads to ``examples/media/demo.mp4``;
    anywhere else the clip is copied beside the file as ``demo.mp4``, so the folder is self-contained and no path
    climbs back into the checkout it was made from.
    """
    import shutil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = demo_clip()
    if clip is None:
        video = "examples/media/demo.mp4"
    elif out.resolve().is_relative_to(clip.parents[2]):
        video = os.path.relpath(clip, out.resolve())
    else:
        shutil.copyfile(clip, out / clip.name)
        video = clip.name
    path = out / "demo_cloze.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for record in demo_records(video):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
