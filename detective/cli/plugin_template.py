"""``omni-detective plugin new NAME``: write a working tool-plugin skeleton.

The skeleton is a pip-installable distribution: a ``pyproject.toml`` with the ``omni_detective`` entry point, one
module holding a :class:`~detective.tools.Tool` (a loudness meter emitting ``description`` observations, which the
captioners write into the storyline) and its ``register_tools`` hook, a README, and tests: the standard
:class:`~detective.testing.ToolTests` (on the demo clip shipped inside omni-detective) and that it is installed.
``pip install -e DIR[test]`` then ``pytest DIR`` passes as written."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import click

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "An omni-detective tool plugin: {tool}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["omni-detective", "numpy"]

[project.optional-dependencies]
test = ["pytest>=8"]

# omni-detective loads every module named in this entry-point group.
[project.entry-points.omni_detective]
{tool} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
"""

MODULE = '''\
"""omni-detective plugin {dist}: the ``{tool}`` tool.

Replace :meth:`{cls}.observe` with what your tool perceives. It gets the probed clip (``media.path`` is a local
file; ``detective.media`` has ``load_audio``, ``frames_at`` and ``iter_frames`` to decode it) and one query (an
optional ``span``, a ``question`` for question tools), and returns observations. It must not keep state between
calls: every call is an independent observer. The kinds the captioners write about are listed in
``detective.models.ObservationKind``; a ``description`` becomes a sentence of the storyline at its span.
"""

from __future__ import annotations

import math

import numpy as np

import detective
from detective.media import load_audio
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError


class {cls}(Tool):
    """Measures how loud the audio is over the span it was asked about (a starting point to edit)."""

    name = "{tool}"
    description = "Measure the loudness of the audio (peak and average level) over the whole clip or a span."
    input_model = SpanInput
    modalities = ("audio",)  # the tool is offered only for clips that have these streams
    version = "0.1.0"

    # A tool with a model loads it in `def setup(self)`, once per process before its first observe, keeping it with
    # `detective.loaded.load_once(("{tool}", settings...), build)` so every instance shares one copy.

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Answer one query about one clip."""
        span = query.span or TimeSpan(start=0.0, end=media.duration)
        try:
            samples = load_audio(media.path or media.source, span.start, span.end)
        except Exception as exc:  # a clip that cannot be decoded: the Detective records the failure and goes on
            raise ToolError(f"{{self.name}}: could not read the audio of {{media.source}}: {{exc}}") from exc
        if samples.size == 0:
            return []
        peak = 20 * math.log10(max(float(np.max(np.abs(samples))), 1e-6))
        mean = 20 * math.log10(max(float(np.sqrt(np.mean(samples**2))), 1e-6))
        return [
            Observation(
                tool=self.name,
                kind="description",
                content=f"The audio peaks at {{peak:.1f}} dBFS and averages {{mean:.1f}} dBFS here.",
                span=span,
                confidence=1.0,
                payload={{"peak_db": round(peak, 1), "rms_db": round(mean, 1)}},
            )
        ]


@detective.hookimpl
def register_tools(register):
    """Register this plugin's tools."""
    register({cls}())
'''

TEST = '''\
"""{dist}: installed, registered, and its tool passes omni-detective's standard tool tests."""

from __future__ import annotations

from detective.models import MediaInfo, Query, TimeSpan
from detective.plugins import get_registry
from detective.testing import ToolTests

from {module} import {cls}


class Test{cls}(ToolTests):
    """The standard tests (on the demo clip shipped with omni-detective): declarations, schema, registration,
    queries, well-formed observations, and a ToolError for a file that is not media."""

    tool_class = {cls}
    registered_name = "{tool}"


def test_plugin_is_installed() -> None:
    registry = get_registry()
    assert "{tool}" in registry.tools, f"not registered; plugin failures: {{registry.failures}}"
    assert registry.tools["{tool}"].plugin == "{tool}"


def test_tool_measures_the_span_it_is_asked_about() -> None:
    from detective.testing.standard import DEMO_CLIP

    media = MediaInfo(source=str(DEMO_CLIP), path=str(DEMO_CLIP), duration=20.0, has_audio=True)
    span = TimeSpan(start=1.0, end=3.0)
    (found,) = get_registry().tool("{tool}").observe(media, Query(tool="{tool}", span=span))
    assert found.kind == "description" and found.span == span
    assert found.payload.peak_db >= found.payload.rms_db
'''

README = """\
# {dist}

An omni-detective tool plugin adding the tool `{tool}`.

```bash
pip install -e .[test]
omni-detective plugins          # lists {tool}
omni-detective caption clip.mp4 --offline --tools {tool},shots
pytest
```
"""


def names(name: str) -> dict[str, str]:
    """Distribution, module, tool and class names derived from ``name`` (e.g. ``beat-counter``)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.lower()) if w]
    if not words or not words[0][0].isalpha():
        raise click.BadParameter(f"{name!r}: use letters, digits and dashes, starting with a letter", param_hint="NAME")
    tool = "_".join(words)
    if keyword.iskeyword(tool):
        raise click.BadParameter(f"{name!r} is a Python keyword", param_hint="NAME")
    return {
        "dist": "omni-detective-" + "-".join(words),
        "module": f"detective_{tool}",
        "tool": tool,
        "cls": "".join(w.capitalize() for w in words) + "Tool",
    }


def write_plugin(name: str, parent: Path) -> Path:
    """Write the skeleton of plugin ``name`` under ``parent`` and return its folder (which must not exist)."""
    n = names(name)
    root = Path(parent) / n["dist"]
    if root.exists():
        raise click.ClickException(f"{root} already exists; choose another --dir or name")
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(**n), encoding="utf-8")
    (root / f"{n['module']}.py").write_text(MODULE.format(**n), encoding="utf-8")
    (root / "tests" / f"test_{n['tool']}.py").write_text(TEST.format(**n), encoding="utf-8")
    (root / "README.md").write_text(README.format(**n), encoding="utf-8")
    return root


@click.group("plugin")
def plugin() -> None:
    """Write plugins of your own."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the plugin's folder in.",
)
def new(name: str, parent: Path) -> None:
    """Write a working tool-plugin skeleton NAME: pyproject with entry point, module with a Tool, a test."""
    root = write_plugin(name, parent)
    n = names(name)
    click.echo(f"wrote {root}")
    click.echo(f"  pip install -e {root}[test]")
    click.echo(f"  pytest {root}")
    click.echo(f"  then edit {root / (n['module'] + '.py')}: {n['cls']}.observe")
