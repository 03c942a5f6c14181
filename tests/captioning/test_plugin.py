"""The captioning plugin registers its captioners through the omni_detective entry point."""

from __future__ import annotations

from detective.captioning import Captioner
from detective.plugins import get_registry


def test_captioners_are_registered_by_the_plugin() -> None:
    registry = get_registry()
    assert "captioning" not in registry.failures
    made = {}
    for name in ("template", "llm", "direct"):
        entry = registry.captioners[name]
        assert entry.plugin == "captioning"
        made[name] = registry.make("captioners", name)
        assert isinstance(made[name], Captioner) and made[name].name == name
    assert not made["template"].needs_api
    assert made["llm"].needs_api and made["direct"].needs_api
