"""The ``omni-detective`` command line. Plugins add sub-commands through the ``register_commands`` hook.

Start-up stays light: command modules import what they need inside their functions, and plugins load only when a
command name is not a core one or the full list is wanted (``--help``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from detective import logs
from detective.cli import exits
from detective.cli.options import (
    config_default,
    context_size_option,
    detective_config,
    download_timeout_option,
    max_tokens_option,
    observer_timeout_option,
    with_role_limits,
)
from detective.llm.settings import SettingsError, check_environment


class CommandGroup(click.Group):
    """The ``omni-detective`` group: its logging options apply before anything else runs (plugins loading
    included) and to every sub-command; plugins' commands are added on first need."""

    plugins_loaded = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the group's options, then set up logging from them."""
        rest = super().parse_args(ctx, args)
        if not ctx.resilient_parsing:  # shell completion runs nothing
            try:
                check_environment()
                logs.setup(json_file=ctx.params.get("log_json"), level=ctx.params.get("log_level"))
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
        return rest

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A core command, else one a plugin adds."""
        if cmd_name not in self.commands:
            self.load_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, the plugins' included."""
        self.load_plugin_commands()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command; a setting that cannot be read is an error message, not a traceback; Ctrl-C or
        SIGTERM exits 130 or 143."""
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:  # a command without its own handler (click would say "Aborted!" and exit 1)
            click.echo("interrupted", err=True)
            sys.exit(exits.exit_code())

    def load_plugin_commands(self) -> None:
        """Let each plugin add its commands (once); a plugin that fails is reported and skipped."""
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        from detective.plugins import call_each

        for plugin, error in call_each("register_commands", cli=self).items():
            click.echo(f"omni-detective: plugin {plugin} failed to add commands: {error}", err=True)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="omni-detective")
@click.option(
    "--log-json",
    "log_json",
    type=click.Path(dir_okay=False),
    default=None,
    help="Append structured JSON log lines to this file, for every command (default: readable lines on stderr).",
)
@click.option(
    "--log-level",
    type=click.Choice(logs.LEVELS, case_sensitive=False),
    default=None,
    help="Log level of every command (default: OMNI_DETECTIVE_LOG_LEVEL, else info for --log-json, else warning).",
)
def cli(log_json: str | None, log_level: str | None) -> None:
    """omni-detective: interrogate independent observers and write detailed, time-stamped captions."""
    # the logging options are applied by CommandGroup.parse_args, before the sub-command is even looked up


@cli.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the full RunResult as JSON instead of the caption.")
@click.option("--offline", is_flag=True, default=None, help="Never call a remote model, even with OPENAI_API_KEY set.")
@click.option(
    "--mode",
    type=click.Choice(["detective", "direct"]),
    default=None,
    help="detective (default): the agent loop over observers; direct: one call to an omni model (needs a key).",
)
@click.option("--tools", default=None, help="Comma-separated tool names (default: every applicable tool).")
@click.option(
    "--planner",
    default=None,
    help="Planner name (default: hybrid when online, else rule; llm: the paper's pure LLM planner).",
)
@click.option("--captioner", default=None, help="Captioner name (default: llm when online, else template).")
@click.option(
    "--max-rounds",
    type=int,
    default=None,
    help=f"Rounds of plan → query → observe (default: {config_default('max_rounds')}).",
)
@click.option("--no-prompt", is_flag=True, help="Direct mode: send audio only, no text (captioner models).")
@click.option(
    "--strict-grounding", is_flag=True, help="LLM captioner: remove caption items that no observation reports."
)
@click.option("--live", is_flag=True, help="Print the investigation as it happens (rounds, observations) on stderr.")
@max_tokens_option
@context_size_option
@observer_timeout_option
@download_timeout_option
def caption(
    source: str,
    as_json: bool,
    offline: bool | None,
    mode: str | None,
    tools: str | None,
    planner: str | None,
    captioner: str | None,
    max_rounds: int | None,
    no_prompt: bool,
    strict_grounding: bool,
    live: bool,
    max_tokens: dict[str, int],
    context_size: dict[str, int],
    observer_timeout: float | None,
    download_timeout: float | None,
) -> None:
    """Caption one clip (a local file or a URL) and print the Markdown caption.

    Options not given fall back to OMNI_DETECTIVE_<FIELD> variables, then to DetectiveConfig's defaults.
    Ctrl-C stops it at once (exit code 130) and deletes a partial download.
    """
    from detective.agent.detective import Detective
    from detective.agent.events import Finished
    from detective.evidence.coverage import NoEvidenceError
    from detective.llm.client import LLMError
    from detective.llm.settings import Settings
    from detective.media import MediaError
    from detective.progress import CaptionProgress, wanted

    try:
        config = detective_config(
            mode=mode,
            tools=tools,
            planner=planner,
            captioner=captioner,
            max_rounds=max_rounds,
            offline=offline,
            no_prompt=no_prompt,
            strict_grounding=strict_grounding,
            observer_timeout=observer_timeout,
            download_timeout=download_timeout,
        )
        detective = Detective(config=config, settings=with_role_limits(Settings.from_env(), max_tokens, context_size))
        result = None
        bar = CaptionProgress(sys.stderr) if wanted(sys.stderr, None) else None  # rounds and observers, on a TTY
        with bar or contextlib.nullcontext():
            for event in detective.stream(source):
                if bar is not None:
                    bar.on_event(event)
                if isinstance(event, Finished):
                    result = event.result
                elif live:  # standard error prints above the bar while it shows
                    click.echo(describe_event(event), err=True)
        assert result is not None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(exits.exit_code())
    except NoEvidenceError as exc:
        raise click.ClickException(str(exc)) from exc
    except SettingsError:
        raise  # names its variable: not the clip's fault
    except MediaError as exc:  # its message starts with the clip's source already
        raise click.ClickException(str(exc)) from exc
    except (LLMError, KeyError, ValueError) as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(result.caption_markdown.rstrip())
        for note in result.notes:
            click.echo(f"note: {note}", err=True)


def describe_event(event: object) -> str:
    """One line about a run event (see :mod:`detective.agent.events`), for a live view."""
    from detective.agent.events import Captioned, ContradictionFound, Observed, RoundPlanned

    if isinstance(event, RoundPlanned):
        if event.finish:
            return f"round {event.round}: the planner closes the case ({event.rationale or 'no reason given'})"
        asked = ", ".join(_query_label(q) for q in event.queries) or "nothing"
        return f"round {event.round}: asks {asked}"
    if isinstance(event, Observed):
        if event.failure is not None:
            return f"  {event.tool} failed: {event.failure.error}"
        return f"  {event.tool}: {len(event.observations)} observation(s)"
    if isinstance(event, ContradictionFound):
        rel = event.relation
        return f"  contradiction: {rel.tools[0]} says “{rel.a_says}”, {rel.tools[1]} says “{rel.b_says}”"
    if isinstance(event, Captioned):
        return f"caption written ({event.stop_reason})"
    return str(event)


def _query_label(q: object) -> str:
    from detective.models import format_time

    span = getattr(q, "span", None)
    where = f" {format_time(span.start)}–{format_time(span.end)}" if span is not None else ""
    return f"{q.tool}{where}"  # type: ignore[attr-defined]


@cli.command()
def plugins() -> None:
    """Print the loaded plugins, their hooks, versions and registrations as JSON."""
    from detective.plugins import describe

    click.echo(json.dumps(describe(), indent=2))


@cli.command("tools")
def tools_cmd() -> None:
    """Print the registered tools as JSON: name, description, modalities, version, plugin."""
    from detective.plugins import get_registry

    reg = get_registry()
    out = [
        {**r.value.spec().model_dump(exclude={"parameters"}), "plugin": r.plugin, "needs_api": r.value.needs_api}
        for r in reg.tools.values()
    ]
    click.echo(json.dumps(out, indent=2))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def roles(as_json: bool) -> None:
    """List the model roles: model, endpoint host, whether a key is set, and what uses each role."""
    from detective.cli.doctor import role_table

    rows = role_table()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("role", "model", "endpoint", "key", "used by")
    table = [header] + [(r["role"], r["model"], r["endpoint"], r["key"], ", ".join(r["used_by"]) or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def config_cmd(as_json: bool) -> None:
    """Print the resolved settings of every role and where each value came from; API keys redacted.

    Sources, highest first: command-line options, the environment, ./.env, ./omni-detective.toml, then the user's
    file ($OMNI_DETECTIVE_CONFIG, else $XDG_CONFIG_HOME/omni-detective/config.toml), then the defaults.
    """
    from detective.llm.settings import DEFAULT_MODELS, load
    from detective.llm.settings import describe as describe_settings

    loaded = load()
    report = describe_settings(loaded, sorted(set(DEFAULT_MODELS) | set(loaded.settings.roles)))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    files = ", ".join(f"{f['path']} ({'read' if f['exists'] else 'absent'})" for f in report["files"])
    click.echo(f"files: {files}")
    offline = report["offline"]
    click.echo(f"offline: {'yes' if offline['value'] else 'no'}  ({offline['from']})")
    for role, values in report["roles"].items():
        click.echo(f"\n{role}")
        width = max(len(str(v["value"])) for v in values.values())
        for name, v in values.items():
            shown = "-" if v["value"] is None else str(v["value"])
            click.echo(f"  {name:<13} {shown:<{width}}  {v['from']}")


@cli.command()
@click.option("--live", is_flag=True, help="Also ask each role's endpoint for its model list (one small request).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(live: bool, as_json: bool) -> None:
    """Check the installation: Python, FFmpeg libraries, plugins, tools' model files, endpoints and keys.

    Exits 1 when a check failed. Keys are never printed; --live makes one request per endpoint.
    """
    from detective.cli.doctor import run_checks

    checks = run_checks(live=live)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for c in checks:
            click.echo(f"{c.status.upper():5} {c.name}: {c.detail}")
    if any(c.status == "fail" for c in checks):
        sys.exit(1)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "ascii", "png"]),
    default="mermaid",
    show_default=True,
    help="mermaid text (offline), ascii art, or png through a local graphviz.",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file (png needs it).")
def graph(fmt: str, out: str | None) -> None:
    """Draw the Detective graph. PNG uses a local graphviz `dot`; no web service is ever called."""
    from detective.agent.graph import graph as compiled

    drawable = compiled.get_graph()
    if fmt == "mermaid":
        text = drawable.draw_mermaid()
    elif fmt == "ascii":
        text = _ascii(drawable)
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise click.ClickException(
                "PNG needs graphviz's `dot` on PATH (e.g. `apt-get install graphviz`); "
                "use --format mermaid for an offline drawing. The mermaid.ink web service is never called."
            )
        if not out:
            raise click.ClickException("--format png needs --out FILE")
        source = _dot(drawable)
        subprocess.run([dot, "-Tpng", "-o", out], input=source.encode(), check=True)
        click.echo(out)
        return
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(out)
    else:
        click.echo(text)


def _edges(drawable: object) -> list[tuple[str, str, bool]]:
    return [(e.source, e.target, e.conditional) for e in drawable.edges]  # type: ignore[attr-defined]


def _ascii(drawable: object) -> str:
    lines = ["Detective graph (-> fixed edge, ..> conditional edge)"]
    for source, target, conditional in _edges(drawable):
        lines.append(f"  {source} {'..>' if conditional else '-->'} {target}")
    return "\n".join(lines)


def _dot(drawable: object) -> str:
    lines = ["digraph detective {", '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#f2f0ff"];']
    for source, target, conditional in _edges(drawable):
        style = " [style=dashed]" if conditional else ""
        lines.append(f'  "{source}" -> "{target}"{style};')
    lines.append("}")
    return "\n".join(lines)


def _add_core_commands() -> None:
    from detective.cli.plugin_template import plugin
    from detective.cli.report import report
    from detective.cli.run import run
    from detective.report.export import export

    for command in (run, report, plugin, export):
        cli.add_command(command)


_add_core_commands()


def main() -> None:
    """Console-script entry point: SIGTERM is handled as Ctrl-C, and a stopped command ends with ``os._exit``
    once cleaned up (see :mod:`detective.cli.exits`)."""
    exits.install()
    try:
        cli()
    except SystemExit as exc:
        if exc.code in (exits.INTERRUPTED, exits.TERMINATED):
            exits.hard_exit(int(exc.code))
        raise
    except KeyboardInterrupt:  # between commands' handlers (while loading, while printing)
        click.echo("interrupted", err=True)
        exits.hard_exit(exits.exit_code())
