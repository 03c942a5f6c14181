"""Hook specifications of the ``omni_detective`` plugin system.

Registration hooks receive a ``register`` callback instead of returning lists: the plugin manager attributes each
registration to its plugin, rejects duplicates by name and isolates a plugin that raises. Implementations may
accept any subset of a hook's arguments (pluggy's contract).

A plugin is a module (or object) with functions decorated ``@detective.hookimpl`` and an entry point in the
``omni_detective`` group::

    [project.entry-points.omni_detective]
    my_tool = "my_package.plugin"
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("omni_detective")
hookimpl = pluggy.HookimplMarker("omni_detective")


@hookspec
def register_tools(register: Any) -> None:
    """Register tools with ``register(tool, aliases=())``.

    :param register: callback taking a :class:`detective.tools.Tool` instance and optional alias names.
    """


@hookspec
def register_planners(register: Any) -> None:
    """Register planners with ``register(name, factory)``.

    :param register: callback taking a name and a zero-argument callable that returns a
        :class:`detective.planning.Planner`.
    """


@hookspec
def register_captioners(register: Any) -> None:
    """Register captioners with ``register(name, factory, options=None)``.

    :param register: callback taking a name, a zero-argument callable that returns a
        :class:`detective.captioning.Captioner`, and optionally the captioner's options model (a
        :class:`detective.captioning.CaptionerOptions` subclass, or a :class:`detective.lazy.Lazy` naming one;
        default: the factory's ``options_model`` when the factory is the class). The run checks
        ``DetectiveConfig.captioner_options`` against the chosen captioner's model; one without a model gets a dict.
    """


@hookspec
def register_evaluators(register: Any) -> None:
    """Register caption evaluators (judges, scorers) with ``register(name, factory)``.

    :param register: callback taking a name and a zero-argument callable returning the evaluator object.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add sub-commands to the ``omni-detective`` command line.

    :param cli: the root :class:`click.Group`; call ``cli.command()`` / ``cli.group()`` / ``cli.add_command()``.
    """
