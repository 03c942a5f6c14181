"""ImageNet-1k classes grouped into plain nouns, and the classes never claimed.

The classifier's 1000 classes are fine-grained ("tabby", "tiger cat", "Egyptian cat"); a caption wants "a cat".
A group's score is the sum of its classes' probabilities, so a cat split over three cat classes still counts as
a sure cat. Classes outside every group stand for themselves ("a tripod"). Classes that describe flat graphics
(web site, crossword puzzle, screen …) are what the model answers for title cards, colour bars and test
patterns, so they are never claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Plain noun (with its article) -> ImageNet class names, or ``(first, last)`` index ranges (0-based, inclusive).
# fmt: off
GROUPS: dict[str, tuple[str | tuple[int, int], ...]] = {
    "a dog": ((151, 268),),
    "a cat": ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"),
    "a wild cat": ("cougar", "lynx", "leopard", "snow leopard", "jaguar", "lion", "tiger", "cheetah"),
    "a bird": ((7, 24), (80, 100), (127, 146)),
    "a fish": ((0, 6), (389, 397)),
    "a cup of coffee": ("espresso", "cup", "coffee mug"),
    "a car": (
        "ambulance", "beach wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model T", "racer",
        "sports car", "police van",
    ),
    "a truck": ("fire engine", "garbage truck", "moving van", "pickup", "tow truck", "trailer truck"),
    "a motorbike": ("moped", "motor scooter"),
    "a bicycle": ("bicycle-built-for-two", "mountain bike", "tricycle", "unicycle"),
    "a boat": (
        "canoe", "catamaran", "container ship", "fireboat", "gondola", "lifeboat", "liner", "pirate", "schooner",
        "speedboat", "submarine", "trimaran", "yawl",
    ),
    "an aircraft": ("airliner", "warplane", "airship"),
    "a rocket": ("missile", "projectile", "space shuttle"),
    "a train": ("bullet train", "electric locomotive", "freight car", "steam locomotive", "passenger car", "streetcar"),
    "a laptop computer": ("laptop", "notebook"),
    "a keyboard": ("computer keyboard", "typewriter keyboard"),
    "a piano": ("grand piano", "upright"),
    "a guitar": ("acoustic guitar", "electric guitar"),
    "a pizza": ("pizza",),
    "fruit": (
        "Granny Smith", "strawberry", "orange", "lemon", "fig", "pineapple", "banana", "jackfruit", "pomegranate",
    ),
    "a flower": ("daisy", "yellow lady's slipper"),
    "a clock": ("analog clock", "wall clock"),
    "a camera on a tripod": ("tripod",),
    # Real photographs split their probability over neighbouring classes (a mandrill: baboon 0.45, guenon 0.25 …;
    # a swallowtail: monarch 0.50, admiral 0.21 …; brick houses: monastery 0.37, bell cote 0.17, castle 0.11 …),
    # so the group names what the species or building type alone would not (opencv-doc's baboon.jpg,
    # butterfly.jpg, leuvenA.jpg).
    "a monkey": ((370, 382),),
    "a butterfly": ((321, 326),),
    "a building": (
        "bell cote", "boathouse", "barn", "castle", "church", "cinema", "dome", "greenhouse", "library",
        "monastery", "mosque", "palace", "planetarium", "prison", "stupa", "triumphal arch",
    ),
}
# fmt: on

#: Classes the model gives flat graphics; they are never claimed (measured on title cards, colour bars, test
#: patterns and fractals: web site, binder, crossword puzzle, hair slide, matchstick, nematode … on top).
NEVER_CLAIMED: frozenset[str] = frozenset(
    {
        "web site", "menu", "crossword puzzle", "binder", "envelope", "screen", "monitor", "television",
        "jigsaw puzzle", "shoji", "window screen", "window shade", "shower curtain", "theater curtain",
        "digital clock", "scoreboard", "book jacket", "comic book", "packet", "carton", "matchstick",
        "oscilloscope", "nematode", "hair slide", "bubble", "spotlight", "maze", "doormat", "prayer rug", "quilt",
        "velvet", "wool", "dishrag", "handkerchief", "rubber eraser", "pinwheel", "lampshade", "sundial",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Grouping:
    """The ImageNet classes folded into plain nouns: ``group_of[class index]`` -> noun, plus the never-claimed."""

    labels: tuple[str, ...]
    group_of: tuple[str, ...]
    claimable: np.ndarray  # bool per class

    def scores(self, probs: np.ndarray) -> dict[str, float]:
        """Probability of each noun (sum over its classes), claimable classes only, best first."""
        totals: dict[str, float] = {}
        for index in np.nonzero(self.claimable & (probs >= 1e-3))[0]:
            noun = self.group_of[index]
            totals[noun] = totals.get(noun, 0.0) + float(probs[index])
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def members(self, noun: str, probs: np.ndarray, top: int = 3) -> list[dict[str, float | str]]:
        """The classes behind ``noun``, most probable first: ``[{"class", "p"}]``."""
        indices = [i for i, g in enumerate(self.group_of) if g == noun]
        best = sorted(indices, key=lambda i: -probs[i])[:top]
        return [{"class": self.labels[i], "p": round(float(probs[i]), 4)} for i in best if probs[i] >= 0.005]


def _article(label: str) -> str:
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


def build_grouping(labels: Sequence[str]) -> Grouping:
    """Fold the model's class ``labels`` into :data:`GROUPS`; raises ``KeyError`` for a group naming no class."""
    index_of: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        index_of.setdefault(label, []).append(i)
    group_of = [_article(label) for label in labels]
    for noun, members in GROUPS.items():
        for member in members:
            if isinstance(member, tuple) and member[1] < len(labels):
                indices = list(range(member[0], member[1] + 1))
            elif member in index_of:
                indices = index_of[member]
            else:
                raise KeyError(f"scene: noun group {noun!r} names {member!r}, which is not an ImageNet class")
            for i in indices:
                group_of[i] = noun
    claimable = np.array([label not in NEVER_CLAIMED for label in labels], dtype=bool)
    return Grouping(labels=tuple(labels), group_of=tuple(group_of), claimable=claimable)
