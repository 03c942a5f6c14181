"""A tiny third-party plugin: a tool, a planner and a command."""

import click

import detective
from detective.agent.rule_planner import RulePlanner


class Loudness(detective.Tool):
    """Reports a fixed loudness: enough to see the plugin path end to end."""

    name = "od_loudness"
    description = "Reports the loudness of the clip."
    modalities = ("audio",)
    version = "1.2.3"

    def observe(self, media, query):
        return [
            detective.Observation(
                tool=self.name, kind="sound_event", content="loud", span=detective.TimeSpan(start=0, end=media.duration)
            )
        ]


class Careful(RulePlanner):
    name = "careful"


@detective.hookimpl
def register_tools(register):
    register(Loudness(), aliases=["loudness"])


@detective.hookimpl
def register_planners(register):
    register("careful", Careful)


@detective.hookimpl
def register_commands(cli):
    @cli.command(name="od-hello")
    def hello():
        """Say hello from a plugin."""
        click.echo("hello from od_good")
