"""Old module paths of the core, kept importable for a release after the core moved into rooms.

``import detective.graph`` still works and gives the very module ``detective.agent.graph`` (one module object, so
patching either name patches both), with a :class:`DeprecationWarning` that names the new path. Old paths that are
now a room's own name (``detective.llm``, ``detective.evidence``, ``detective.report``, ``detective.cli``) hand on
their old public names through :func:`forward`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

#: old module -> the module it became
MOVED: dict[str, str] = {
    "detective.allocator": "detective.agent.allocator",
    "detective.batch": "detective.agent.batch",
    "detective.batch_cli": "detective.cli.run",
    "detective.cache": "detective.jobs.cache",
    "detective.capabilities": "detective.llm.capabilities",
    "detective.claims": "detective.evidence.claims",
    "detective.cli_options": "detective.cli.options",
    "detective.config": "detective.agent.config",
    "detective.coverage": "detective.evidence.coverage",
    "detective.crosscheck": "detective.evidence.crosscheck",
    "detective.detective": "detective.agent.detective",
    "detective.doctor": "detective.cli.doctor",
    "detective.events": "detective.agent.events",
    "detective.exits": "detective.cli.exits",
    "detective.export": "detective.report.export",
    "detective.graph": "detective.agent.graph",
    "detective.grounding": "detective.evidence.grounding",
    "detective.hybrid_planner": "detective.agent.hybrid_planner",
    "detective.jsonl": "detective.jobs.jsonl",
    "detective.llm_planner": "detective.agent.llm_planner",
    "detective.plugin_template": "detective.cli.plugin_template",
    "detective.prompts": "detective.agent.prompts",
    "detective.report_cli": "detective.cli.report",
    "detective.rule_planner": "detective.agent.rule_planner",
    "detective.settings": "detective.llm.settings",
    "detective.settings_sources": "detective.llm.settings",
    "detective.llm.settings_sources": "detective.llm.settings",
    "detective.state": "detective.agent.state",
    "detective.windows": "detective.agent.windows",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; import it from there", DeprecationWarning, stacklevel=3)


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module it moved to (the same object, its own spec kept)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec  # the import system set the alias's spec on it; give the module its own back


class _MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        _warn(fullname, new)
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Make the old paths importable (once per process)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


def forward(room: str, module: str, name: str) -> Any:
    """An old public name of ``room`` (a module that became a room), now defined in ``module``."""
    if name.startswith("__") or importlib.util.find_spec(f"{room}.{name}") is not None:
        # a submodule of the room (``from detective.cli import exits``) is imported as itself, never through here
        raise AttributeError(f"module {room!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except AttributeError:
        raise AttributeError(f"module {room!r} has no attribute {name!r}") from None
    _warn(f"{room}.{name}", f"{module}.{name}")
    return value
