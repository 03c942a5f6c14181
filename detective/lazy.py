"""Deferred imports that keep start-up light: ``omni-detective --help`` imports every plugin's entry point.

- :class:`Lazy`: a factory registered by its import path, imported when first called;
- :func:`lazy_exports`: a package's ``__getattr__`` that imports its public names on first use, so importing the
  package (which importing its ``plugin`` module does) does not load its tools' libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class Lazy:
    """A factory named by its import path (``"package.module:Name"``), imported on first use.

    Register one instead of the class (``register("llm", Lazy("detective.agent.llm_planner:LLMPlanner"))``) so that
    discovering plugins does not import what only a run needs. Calling it, or reading any attribute (``needs_api``,
    ``role``), imports the target.
    """

    def __init__(self, path: str) -> None:
        module, sep, name = path.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"expected 'package.module:Name', got {path!r}")
        self.path = path
        self._target: Any = None

    def load(self) -> Any:
        """The target object, imported on the first call."""
        if self._target is None:
            module, _, name = self.path.partition(":")
            self._target = getattr(importlib.import_module(module), name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy and pickle probe dunders before __init__ ran; never import for those
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        return f"Lazy({self.path!r})"


def lazy_exports(package: str, exports: dict[str, list[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``{"package.module": ["Name", ...]}`` names each public
    name's module, imported when the name is first read.

    In a package's ``__init__.py``: ``__getattr__ = lazy_exports(__name__, {f"{__name__}.tool": ["MyTool"]})``.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return __getattr__
