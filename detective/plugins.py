"""The plugin manager: built-in modules and installed distributions register through the same hooks.

- Built-ins live in :mod:`detective.default_plugins` and are always loaded.
- Installed distributions load from the ``omni_detective`` entry-point group. ``OMNI_DETECTIVE_LOAD_PLUGINS``
  (a comma list of entry-point names; empty means none) restricts which of them load; a name no installed
  distribution has is recorded as a failure (so ``omni-detective plugins`` and ``doctor`` show the typo).
- ``OMNI_DETECTIVE_TRACE_PLUGINS=1`` prints every hook call to standard error.
- A plugin that fails to import or to register is recorded in :attr:`Registry.failures` by name with its error,
  logged, and everything else keeps working; one that calls ``sys.exit()`` while loading too (``SystemExit`` is
  caught there, ``KeyboardInterrupt`` is not: Ctrl-C still stops the command).
- Discovery imports every plugin's entry-point module, so those import what a run needs inside their hooks, and
  register factories by import path (:class:`detective.lazy.Lazy`); ``--help`` then stays light.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy
import structlog

from detective import hookspecs
from detective.tools import Tool

log = structlog.get_logger("detective.plugins")

ENTRY_POINT_GROUP = "omni_detective"
DEFAULT_PLUGINS = ("detective.default_plugins.planners", "detective.default_plugins.captioners")

#: What a plugin may raise while loading or registering and still leave the others working. ``SystemExit`` is here
#: because a plugin calling ``sys.exit()`` at import would otherwise end every command without a word.
PLUGIN_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit)

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None


@dataclass
class Registered:
    """Something a plugin registered: the object (or factory) and the plugin it came from."""

    name: str
    value: Any
    plugin: str
    #: A captioner's options model (``register(name, factory, options=Model)``; a class factory's ``options_model``).
    options: Any = None


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    tools: dict[str, Registered] = field(default_factory=dict)
    tool_aliases: dict[str, str] = field(default_factory=dict)
    planners: dict[str, Registered] = field(default_factory=dict)
    captioners: dict[str, Registered] = field(default_factory=dict)
    evaluators: dict[str, Registered] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def tool(self, name: str) -> Tool:
        """The registered tool called ``name`` (or an alias of it)."""
        name = self.tool_aliases.get(name, name)
        if name not in self.tools:
            known = ", ".join(sorted(self.tools)) or "none"
            raise KeyError(f"no tool named {name!r} is registered (registered: {known})")
        return self.tools[name].value

    def make(self, kind: str, name: str) -> Any:
        """Build the planner, captioner or evaluator registered as ``name``."""
        table: dict[str, Registered] = getattr(self, kind)
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise KeyError(f"no {kind[:-1]} named {name!r} is registered (registered: {known})")
        return table[name].value()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created and loaded on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm, failures = _load()
            _pm.omni_failures = failures  # type: ignore[attr-defined]
        return _pm


def _allowed() -> set[str] | None:
    raw = os.environ.get("OMNI_DETECTIVE_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _load() -> tuple[pluggy.PluginManager, dict[str, str]]:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    failures: dict[str, str] = {}
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    allowed = _allowed()
    installed = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for unknown in sorted((allowed or set()) - set(installed.names)):
        # a typo in the allow-list would otherwise load nothing without a word
        known = ", ".join(sorted(installed.names)) or "none"
        failures[unknown] = (
            f"not installed: OMNI_DETECTIVE_LOAD_PLUGINS names {unknown!r}, but no installed distribution has a "
            f"plugin of that name in the {ENTRY_POINT_GROUP!r} entry-point group (installed: {known})"
        )
        log.warning("unknown plugin in OMNI_DETECTIVE_LOAD_PLUGINS", plugin=unknown, error=failures[unknown])
    for ep in installed:
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            pm.check_pending()
        except PLUGIN_ERRORS as exc:  # a broken plugin must not take the others down
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            failures[ep.name] = describe_error(exc, "at import")
            log.warning(
                "plugin failed to load", plugin=ep.name, distribution=_distribution(ep), error=failures[ep.name]
            )
    if os.environ.get("OMNI_DETECTIVE_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm, failures


def describe_error(exc: BaseException, where: str) -> str:
    """A plugin's error as one line: ``ImportError: ...``, or ``SystemExit: called sys.exit(2) at import``."""
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code)
        return f"SystemExit: called sys.exit({code}) {where}"
    return f"{type(exc).__name__}: {exc}"


def _distribution(ep: importlib.metadata.EntryPoint) -> str | None:
    return ep.dist.metadata["Name"] if ep.dist is not None else None


def call_each(hook_name: str, before: Callable[[str], None] | None = None, **kwargs: Any) -> dict[str, str]:
    """Call every implementation of ``hook_name`` separately, so one raising does not stop the rest.

    ``before(plugin name)`` runs ahead of each implementation (a registry notes who registers). Returns the
    failures as ``{plugin name: error}``; they are also logged. ``OMNI_DETECTIVE_TRACE_PLUGINS=1`` traces each call.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    trace = os.environ.get("OMNI_DETECTIVE_TRACE_PLUGINS") == "1"
    failures: dict[str, str] = {}
    for impl in caller.get_hookimpls():  # registration order: built-ins first
        args = [kwargs[a] for a in impl.argnames]
        if before is not None:
            before(impl.plugin_name)
        if trace:
            print(f"{hook_name} -> {impl.plugin_name}", file=sys.stderr)
        try:
            impl.function(*args)
        except PLUGIN_ERRORS as exc:
            failures[impl.plugin_name] = f"{hook_name}: {describe_error(exc, 'in ' + hook_name)}"
            log.warning("plugin hook failed", plugin=impl.plugin_name, hook=hook_name, error=str(exc))
    return failures


def _registrar(
    table: dict[str, Registered], kind: str, plugin: Callable[[], str], failures: dict[str, str]
) -> Callable[..., None]:
    def register(name: str, factory: Any, **extra: Any) -> None:
        if name in table:
            failures[plugin()] = f"{kind} {name!r} already registered by {table[name].plugin}"
            log.warning("duplicate registration", kind=kind, name=name, plugin=plugin())
            return
        unknown = sorted(set(extra) - ({"options"} if kind == "captioner" else set()))
        if unknown:
            raise TypeError(f"register_{kind}s: register() got an unexpected keyword argument {unknown[0]!r}")
        options = extra.get("options")
        if options is None and isinstance(factory, type):
            options = getattr(factory, "options_model", None)
        table[name] = Registered(name, factory, plugin(), options)

    return register


def get_registry() -> Registry:
    """Everything registered by the loaded plugins (built once per process; see :func:`reset`)."""
    global _registry
    with _lock:
        if _registry is not None:
            return _registry
        pm = get_plugin_manager()
        reg = Registry(failures=dict(pm.omni_failures))  # type: ignore[attr-defined]
        current = {"plugin": ""}

        def who() -> str:
            return current["plugin"]

        def register_tool(tool: Tool, aliases: tuple[str, ...] | list[str] = ()) -> None:
            if not isinstance(tool, Tool):
                raise TypeError(f"register_tools: expected a Tool instance, got {tool!r}")
            if tool.name in reg.tools:
                reg.failures[who()] = f"tool {tool.name!r} already registered by {reg.tools[tool.name].plugin}"
                return
            reg.tools[tool.name] = Registered(tool.name, tool, who())
            for alias in aliases:
                reg.tool_aliases[alias] = tool.name

        hooks: list[tuple[str, Callable[..., None]]] = [
            ("register_tools", register_tool),
            ("register_planners", _registrar(reg.planners, "planner", who, reg.failures)),
            ("register_captioners", _registrar(reg.captioners, "captioner", who, reg.failures)),
            ("register_evaluators", _registrar(reg.evaluators, "evaluator", who, reg.failures)),
        ]

        def note(plugin: str) -> None:
            current["plugin"] = plugin

        for hook_name, register in hooks:
            reg.failures.update(call_each(hook_name, before=note, register=register))
        _registry = reg
        return reg


def reset() -> None:
    """Forget the loaded plugins; the next call loads them again (tests and long-lived hosts use this)."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None


def describe() -> list[dict[str, Any]]:
    """The loaded plugins, their hooks, versions and what they registered, for ``omni-detective plugins``."""
    pm = get_plugin_manager()
    reg = get_registry()
    by_plugin: dict[str, dict[str, Any]] = {}
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        hooks = sorted(h.name for h in (pm.get_hookcallers(plugin) or []))
        by_plugin[name] = {"name": name, "hooks": hooks}
    dists: dict[str, dict[str, Any]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.dist is not None:
            dists.setdefault(ep.name, {"version": ep.dist.version, "distribution": ep.dist.metadata["Name"]})
    for name, entry in by_plugin.items():
        entry.update(dists.get(name, {}))
        if name.startswith("detective."):
            entry.setdefault("version", _package_version())
            entry.setdefault("distribution", "omni-detective")
        for kind in ("tools", "planners", "captioners", "evaluators"):
            owned = sorted(r.name for r in getattr(reg, kind).values() if r.plugin == name)
            if owned:
                entry[kind] = owned
    out = sorted(by_plugin.values(), key=lambda e: e["name"])
    for name, error in sorted(reg.failures.items()):
        if name in by_plugin:
            by_plugin[name]["error"] = error
        else:
            out.append({"name": name, **dists.get(name, {}), "error": error})
    return out


def _package_version() -> str:
    try:
        return importlib.metadata.version("omni-detective")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
