"""What a run leaves to read: the HTML run report and exports of the output."""

from typing import Any

from detective._moved import forward


def __getattr__(name: str) -> Any:
    # detective.report was one module before it became this room; its public names still resolve, with a warning
    return forward(__name__, "detective.report.html", name)
