"""The plugin's hooks: the ``cloze`` command group and the ``cloze-llm`` / ``cloze-lexical`` evaluators."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``omni-detective cloze`` (predict, score, make-demo)."""
    from detective_cloze.cli import cloze

    cli.add_command(cloze)


@detective.hookimpl
def register_evaluators(register: Any) -> None:
    """Register the Omni-Cloze judges: ``cloze-llm`` (upstream protocol) and ``cloze-lexical`` (offline proxy)."""
    from detective_cloze.judges import make_lexical_judge, make_llm_judge

    register("cloze-llm", make_llm_judge)
    register("cloze-lexical", make_lexical_judge)
