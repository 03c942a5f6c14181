"""How many threads an observer's model gets: its own setting, the tool's variable, the shared one, the cores' share."""

from __future__ import annotations

import pytest

from detective import threads
from detective.llm.settings import SettingsError


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 1), (6, 2), (8, 2), (16, 4), (64, 4)])
def test_cores_are_shared_among_the_observers_a_clip_runs_at_once(
    monkeypatch: pytest.MonkeyPatch, cores: int, expected: int
) -> None:
    monkeypatch.delenv(threads.MODEL_THREADS_VARIABLE, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: cores)
    assert threads.model_threads("SOME_TOOL_THREADS") == expected
    assert threads.model_threads(most=2) == min(2, expected)


def test_settings_win_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setenv(threads.MODEL_THREADS_VARIABLE, "3")
    assert threads.model_threads("SOME_TOOL_THREADS") == 3  # the shared variable
    monkeypatch.setenv("SOME_TOOL_THREADS", "5")
    assert threads.model_threads("SOME_TOOL_THREADS") == 5  # the tool's own variable
    assert threads.model_threads("SOME_TOOL_THREADS", configured=6) == 6  # the tool's argument
    monkeypatch.setenv("SOME_TOOL_THREADS", "many")
    with pytest.raises(SettingsError, match="SOME_TOOL_THREADS must be a whole number of at least 1, not 'many'"):
        threads.model_threads("SOME_TOOL_THREADS")  # refused, never ignored
    monkeypatch.delenv("SOME_TOOL_THREADS")
    monkeypatch.setenv(threads.MODEL_THREADS_VARIABLE, "0")
    with pytest.raises(SettingsError, match="OMNI_DETECTIVE_MODEL_THREADS must be a whole number"):
        threads.model_threads("SOME_TOOL_THREADS")
