"""AudioSet classes grouped into the plain phrases a caption uses ("a siren", "music"), and the classes not told.

A family's score in a window is its best class's score, so "Siren" in one window and "Civil defense siren" in the
next are one siren. Classes outside every family stand for themselves, named as the tagger names them.
"""

from __future__ import annotations

from collections.abc import Sequence

# fmt: off
#: Phrase -> AudioSet display names, or ``(first, last)`` index ranges of the class map (inclusive).
FAMILIES: dict[str, tuple[str | tuple[int, int], ...]] = {
    "speech": ("Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue", "Speech synthesizer"),
    "music": ((132, 276),),
    "a siren": (
        "Siren", "Civil defense siren", "Ambulance (siren)", "Police car (siren)", "Fire engine, fire truck (siren)",
        "Emergency vehicle",
    ),
    "a beep": ("Beep, bleep",),
    "a pure tone": ("Sine wave",),
    "an alarm": ("Alarm", "Alarm clock", "Smoke detector, smoke alarm", "Fire alarm", "Buzzer"),
    "a telephone ringing": ("Telephone", "Telephone bell ringing", "Ringtone"),
    "a dog": ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)"),
    "a cat": ("Cat", "Meow", "Purr", "Caterwaul"),
    "a bird": ("Bird", "Bird vocalization, bird call, bird song", "Chirp, tweet"),
    "applause": ("Applause", "Clapping"),
    "laughter": ("Laughter", "Giggle", "Chuckle, chortle", "Belly laugh", "Baby laughter", "Snicker"),
    "an engine": (
        "Engine", "Light engine (high frequency)", "Medium engine (mid frequency)", "Heavy engine (low frequency)",
        "Engine starting", "Idling", "Accelerating, revving, vroom",
    ),
    "a vehicle": ("Vehicle", "Motor vehicle (road)", "Car", "Car passing by"),
    "rain": ("Rain", "Raindrop", "Rain on surface"),
    "wind": ("Wind", "Wind noise (microphone)", "Rustling leaves"),
    "water": ("Water", "Stream", "Waterfall", "Ocean", "Waves, surf"),
    "noise": ("Noise", "White noise", "Pink noise", "Static"),
}
# fmt: on

#: Not sounds but silence or the acoustics of a place: never told.
NOT_TOLD: frozenset[str] = frozenset(
    {
        "Silence",
        "Inside, small room",
        "Inside, large room or hall",
        "Inside, public space",
        "Outside, urban or manmade",
        "Outside, rural or natural",
        "Reverberation",
        "Echo",
        "Field recording",
    }
)


def family_of(classes: Sequence[str]) -> list[str | None]:
    """The phrase of each class (``None`` for :data:`NOT_TOLD`); raises ``KeyError`` for an unknown member."""
    index = {name: i for i, name in enumerate(classes)}
    phrases: list[str | None] = [None if c in NOT_TOLD else f"a sound classed as “{c}”" for c in classes]
    for phrase, members in FAMILIES.items():
        for member in members:
            if isinstance(member, tuple):
                if member[1] >= len(classes):
                    raise KeyError(f"audio_tags: family {phrase!r} reaches past class {len(classes) - 1}")
                indices = range(member[0], member[1] + 1)
            elif member in index:
                indices = range(index[member], index[member] + 1)
            else:
                raise KeyError(f"audio_tags: family {phrase!r} names {member!r}, which is not an AudioSet class")
            for i in indices:
                phrases[i] = phrase
    return phrases
