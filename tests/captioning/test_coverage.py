"""Coverage: for every subset of the built-in offline tools, the caption claims nothing about what none examined."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from detective.agent.detective import Detective
from detective.jobs.cache import SQLiteCache
from detective.models import RunResult

pytestmark = pytest.mark.slow

TOOLS = ("shots", "ocr", "asr", "audio_events")
SUBSETS = [combo for n in range(1, len(TOOLS) + 1) for combo in itertools.combinations(TOOLS, n)]

#: Phrases that claim an absence or a measurement, by the tool whose successful run they need.
NEEDS = {
    "ocr": ("no on-screen text was read", "no visible text appears", "no on-screen text was detected"),
    "asr": ("no speech was transcribed", "no speech appears", "speech recognition transcribed"),
    "audio_events": ("silence", "silent", "quiet background", "low background", "dbfs", "tone", "broadband noise"),
    "shots": ("shot 2", "a cut", "cut at", "consists of"),
}


@pytest.fixture(scope="module")
def subset_runs(fixture_media: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, RunResult]:
    cache = SQLiteCache(Path(tmp_path_factory.mktemp("cache")) / "observations.sqlite")
    path = fixture_media["clips"]["scene"]["path"]
    try:
        return {
            combo: Detective(tools=list(combo), captioner="template", offline=True, cache=cache).run(path)
            for combo in SUBSETS
        }
    finally:
        cache.close()


@pytest.mark.parametrize("combo", SUBSETS, ids=lambda c: "+".join(c))
def test_the_caption_claims_nothing_no_observer_examined(subset_runs: dict[tuple, RunResult], combo: tuple) -> None:
    result = subset_runs[combo]
    text = result.caption_markdown.lower()
    for tool, phrases in NEEDS.items():
        if tool in combo:
            continue
        for phrase in phrases:
            assert phrase not in text, f"{'+'.join(combo)} says {phrase!r} though {tool} never ran:\n{text}"
    if "ocr" not in combo:
        assert "on-screen text was not examined" in text
    if "asr" not in combo:
        assert result.caption.transcript == [] and "speech was not examined" in text
    assert result.grounding is not None and result.grounding.score == 1.0, result.grounding
