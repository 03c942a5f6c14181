"""LangGraph Studio for real: ``langgraph dev`` serves the graph's schemas and runs a clip from a path.

The test starts the local LangGraph server (what Studio connects to) on 127.0.0.1 with ``--no-browser``,
reads ``/assistants/<id>/schemas`` and streams one run of the demo clip through the HTTP API, as Studio does:
each round's plan and queries in the ``updates`` stream, and a clip that cannot be read as an error with its cause.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from detective_testserver import server_process

REPO = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 120.0
RUN_DEADLINE = 180.0
LOGS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``langgraph dev`` server for this repository's ``langgraph.json``, offline, on a free local port."""
    exe = Path(sys.executable).with_name("langgraph")
    if not exe.exists():
        exe = Path(shutil.which("langgraph") or "langgraph")
    env = {
        **os.environ,
        "OMNI_DETECTIVE_OFFLINE": "1",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
    }

    def command(port: int) -> list[str]:
        config = str(REPO / "langgraph.json")
        listen = ["--host", "127.0.0.1", "--port", str(port)]
        return [str(exe), "dev", "--config", config, *listen, "--no-browser", "--no-reload"]

    log = LOGS["server"] = tmp_path_factory.mktemp("studio") / "server.log"
    # cwd: langgraph.json's paths are relative to it; its state goes to .langgraph_api/ (git-ignored)
    with server_process(
        command, name="langgraph dev", health="/ok", log=log, deadline=STARTUP_DEADLINE, cwd=REPO, env=env
    ) as base:
        yield base


def _assistant(base: str) -> str:
    found = httpx.post(f"{base}/assistants/search", json={"graph_id": "detective"}, timeout=30).json()
    assert found, "langgraph dev lists no assistant for the detective graph"
    return found[0]["assistant_id"]


def _stream(server: str, body: dict, thread: str | None = None) -> list[tuple[str, dict]]:
    """The ``(event, data)`` pairs of one streamed run on ``thread`` (a new one by default)."""
    thread = thread or httpx.post(f"{server}/threads", json={}, timeout=30).json()["thread_id"]
    got: list[tuple[str, dict]] = []
    with httpx.stream("POST", f"{server}/threads/{thread}/runs/stream", json=body, timeout=RUN_DEADLINE) as reply:
        assert reply.status_code == 200
        event = ""
        for line in reply.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                got.append((event, json.loads(line.split(":", 1)[1])))
    return got


def test_the_server_prints_the_address_it_listens_on(server: str) -> None:
    # docs/studio.md sends readers to the printed address: the port moves when 2024 is taken
    printed = re.sub(r"\x1b\[[0-9;]*m", "", LOGS["server"].read_text(errors="replace"))
    assert f"API: {server}" in printed, printed[-2000:]


def test_studio_serves_the_schemas(server: str) -> None:
    reply = httpx.get(f"{server}/assistants/{_assistant(server)}/schemas", timeout=60)
    assert reply.status_code == 200, reply.text
    schemas = reply.json()
    context = schemas["context_schema"]["properties"]
    assert {"tools", "planner", "captioner", "max_rounds", "max_queries_per_round", "budget", "mode"} <= set(context)
    assert context["max_rounds"]["default"] == 6
    assert "source" in schemas["input_schema"]["properties"]
    assert {"caption_markdown", "evidence", "usage", "grounding"} <= set(schemas["output_schema"]["properties"])


def test_studio_runs_a_clip_from_its_path(server: str, demo_path: str) -> None:
    """A run as Studio starts it: a thread, a path as the input, plain values as the context; events stream."""
    body = {
        "assistant_id": "detective",
        "input": {"source": demo_path},
        "context": {"tools": ["shots", "audio_events"], "planner": "rule", "captioner": "template", "max_rounds": 3},
        "stream_mode": ["updates", "values"],
    }
    thread = httpx.post(f"{server}/threads", json={}, timeout=30).json()["thread_id"]
    got = _stream(server, body, thread)
    nodes = [node for event, data in got if event == "updates" for node in data]
    final = [data for event, data in got if event == "values"][-1]
    errors = [json.dumps(data) for event, data in got if event == "error"]
    # each round's plan and the queries sent to the observers are in the updates, not {"plan": null}
    plans = [data["plan"] for event, data in got if event == "updates" and "plan" in data]
    assert plans[0]["round"] == 1 and sorted(q["tool"] for q in plans[0]["planned"]) == ["audio_events", "shots"]
    assert [p["round"] for p in plans] == list(range(1, len(plans) + 1))
    queries = [data["query"] for event, data in got if event == "updates" and "query" in data]
    assert sorted(q["tool"] for q in queries[0]["queries"]) == ["audio_events", "shots"]
    assert not errors, errors
    assert nodes[:3] == ["open", "plan", "query"] and nodes[-1] == "synthesize", nodes
    assert "observe" in nodes and "review" in nodes
    assert final["stop_reason"].startswith("planner finished"), final["stop_reason"]
    assert final["caption_markdown"].startswith("## Storyline\n00:00.000 - 00:05.000\n")
    assert {o["tool"] for o in final["evidence"]["observations"]} == {"shots", "audio_events"}
    assert final["usage"]["tool_calls"]["shots"] == 1
    assert final["grounding"]["score"] > 0.5
    # the thread keeps the run's state, as Studio shows it
    state = httpx.get(f"{server}/threads/{thread}/state", timeout=30).json()
    assert state["values"]["caption_markdown"] == final["caption_markdown"]


def test_a_clip_that_cannot_be_read_reaches_studio_with_its_cause(server: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip.mp4"
    body = {"assistant_id": "detective", "input": {"source": str(missing)}, "stream_mode": ["updates"]}
    errors = [data for event, data in _stream(server, body) if event == "error"]
    assert errors == [{"error": "MediaError", "message": f"{missing}: file not found"}], errors
