"""The plugin's hooks: the ``cloze`` command group and the ``cloze-llm`` / ``cloze-lexical`` evaluators."""

from __future__ import annotations

from typing import Any

import detective
from detective.lazy import Lazy


@detective.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``omni-detective cloze`` (predict, score, make-demo)."""
    from detective_cloze.cli import cloze

    cli.add_command(cloze)


@detective.hookimpl
def register_evaluators(register: Any) -> None:
    """Register the Omni-Cloze judges: ``cloze-llm`` (upstream protocol) and ``cloze-lexical`` (offline proxy)."""
    register("cloze-llm", Lazy("detective_cloze.judges:make_llm_judge"))  # the LLM client: imported on first use
    register("cloze-lexical", Lazy("detective_cloze.judges:make_lexical_judge"))
