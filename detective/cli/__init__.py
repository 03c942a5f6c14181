"""The ``omni-detective`` command line: its commands, options, doctor and exits."""

from typing import Any

from detective._moved import forward


def __getattr__(name: str) -> Any:
    # detective.cli was one module before it became this room; its public names still resolve, with a warning
    return forward(__name__, "detective.cli.app", name)
