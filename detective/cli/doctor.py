"""``omni-detective doctor``: is this installation ready to caption? Each check says what is wrong and what to do.

Checked: the Python version, PyAV and the FFmpeg libraries it carries, the plugins (loaded or failed), each
registered tool's own :meth:`~detective.tools.Tool.check` (model files and checksums), and each role's endpoint and
key (never printed). ``live=True`` also asks every endpoint in use for its model list, one request each.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]

#: Seconds one live endpoint check may take.
LIVE_TIMEOUT = 10.0


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        """The check as JSON-ready values."""
        return asdict(self)


def run_checks(live: bool = False) -> list[Check]:
    """Every check, in the order a user fixes things: Python, media libraries, plugins, tools, endpoints."""
    return [check_python(), check_ffmpeg(), *check_plugins(), *check_tools(), *check_roles(live)]


def check_python() -> Check:
    """Python 3.11 or newer."""
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):  # noqa: UP036 - the doctor runs where the requirement may not be met
        return Check("python", "fail", f"{version}; omni-detective needs Python 3.11 or newer")
    return Check("python", "ok", f"{version} at {sys.executable}")


def check_ffmpeg() -> Check:
    """PyAV imports and names the FFmpeg libraries it was built with (they decode every clip)."""
    try:
        import av
    except ImportError as exc:
        return Check("ffmpeg", "fail", f"PyAV does not import ({exc}); pip install 'av>=18.1,<19'")
    libs = getattr(av, "library_versions", {})
    names = ", ".join(f"{k} {'.'.join(map(str, v))}" for k, v in sorted(libs.items()) if k.startswith("libav"))
    return Check("ffmpeg", "ok", f"PyAV {av.__version__}; {names or 'library versions unknown'}")


def check_plugins() -> list[Check]:
    """One line per loaded plugin, and one failure per plugin that could not load."""
    from detective.plugins import describe, get_registry

    out = [
        Check(f"plugin {p['name']}", "ok", f"version {p.get('version') or '?'}; hooks: {', '.join(p['hooks'])}")
        for p in describe()
    ]
    for plugin, error in get_registry().failures.items():
        out.append(Check(f"plugin {plugin}", "fail", f"failed to load: {error}"))
    return out


def check_tools() -> list[Check]:
    """Each registered tool's own check (model files present, checksums match)."""
    from detective.plugins import get_registry

    out = []
    for name, registered in sorted(get_registry().tools.items()):
        tool = registered.value
        try:
            detail = tool.check() or "nothing to check"
        except Exception as exc:  # a tool's check failing is the finding, not a crash of the doctor
            out.append(Check(f"tool {name}", "fail", f"{type(exc).__name__}: {exc}"))
            continue
        if tool.needs_api:
            detail = (
                f"{detail}; calls the {tool.role!r} role's model"
                if detail != "nothing to check"
                else (f"calls the {tool.role!r} role's model")
            )
        out.append(Check(f"tool {name}", "ok", detail))
    return out


def check_roles(live: bool) -> list[Check]:
    """Each role in use: model, endpoint host and whether a key is set; with ``live``, one request to it."""
    from detective.llm.settings import Settings

    settings = Settings.from_env()
    out = []
    for row in role_table():
        role, used = str(row["role"]), row["used_by"]
        detail = f"{row['model']} at {row['endpoint']}, key {row['key']}; used by {', '.join(used) or 'nothing'}"  # type: ignore[arg-type]
        if not used:
            out.append(Check(f"role {role}", "ok", detail))
            continue
        if row["key"] != "set":
            out.append(Check(f"role {role}", "warn", f"{detail} (runs offline without it: local tools only)"))
            continue
        unserved = settings.unserved_default(role)
        if unserved:
            out.append(Check(f"role {role}", "warn", f"{detail}; {unserved}"))
            continue
        if live:
            status, found = _live(settings, role)
            out.append(Check(f"role {role}", status, f"{detail}; live: {found}"))
        else:
            out.append(Check(f"role {role}", "ok", detail))
    return out


def _live(settings: object, role: str) -> tuple[Status, str]:
    """Ask the role's endpoint for its model list; say whether the configured model is among them."""
    import httpx

    ep = settings.endpoint(role)  # type: ignore[attr-defined]
    assert ep.api_key is not None
    try:
        reply = httpx.get(
            ep.base_url.rstrip("/") + "/models",
            headers={"Authorization": f"Bearer {ep.api_key.get_secret_value()}"},
            timeout=LIVE_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        return "fail", f"{ep.host} did not answer ({type(exc).__name__})"
    if reply.status_code != 200:
        return "fail", f"{ep.host} answered HTTP {reply.status_code}"
    try:
        ids = {m.get("id") for m in reply.json().get("data", [])}
    except (ValueError, AttributeError):
        return "warn", f"{ep.host} answered, but not with a model list"
    if ep.model in ids:
        return "ok", f"{ep.host} answers and serves {ep.model}"
    return "warn", f"{ep.host} answers but does not list {ep.model} ({len(ids)} models listed)"


def role_table() -> list[dict[str, object]]:
    """Every role: its endpoint as the settings resolve it (never the key itself) and who calls it."""
    from detective.llm.settings import DEFAULT_MODELS, Settings
    from detective.plugins import get_registry

    settings = Settings.from_env()
    reg = get_registry()
    users: dict[str, list[str]] = {}
    for r in reg.tools.values():
        if r.value.needs_api:
            users.setdefault(r.value.role, []).append(f"tool {r.name}")
    for kind, default_role in (("planners", "planner"), ("captioners", "captioner"), ("evaluators", "judge")):
        for name, r in getattr(reg, kind).items():
            if getattr(r.value, "needs_api", False):
                role = getattr(r.value, "role", None)
                role = role if isinstance(role, str) else default_role  # an instance attribute reads as a descriptor
                users.setdefault(role, []).append(f"{kind[:-1]} {name}")
    rows = []
    for role in sorted(set(DEFAULT_MODELS) | set(settings.roles) | set(users)):
        ep = settings.endpoint(role)
        rows.append(
            {
                "role": role,
                "model": ep.model,
                "endpoint": ep.host,
                "key": "offline" if settings.offline else ("set" if ep.available else "missing"),
                "used_by": sorted(users.get(role, [])),
            }
        )
    return rows
