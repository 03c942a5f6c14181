"""Replay the three recorded upstream Omni-Detective runs through LLMPlanner (JSON mode) and an audio observer.

The planner endpoint answers with the recorded questions, the observer endpoint with the recorded observations.
The run must reproduce an upstream-compatible ``omni_detective_trajectory`` and the recorded final caption.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from detective.agent.detective import Detective
from detective.agent.llm_planner import LLMPlanner
from detective.llm.settings import RoleSettings, Settings
from detective.models import MediaInfo, Observation, Query
from detective.runtime import current_services
from detective.testing.fakes import completion
from detective.tools import QuestionInput, Tool

# Three real records of the upstream pipeline (from the project's shared reference material), committed as fixtures.
REFERENCE = Path(__file__).with_name("data") / "upstream-omni-detective-output.jsonl"
#: Not a real key: the replay never leaves respx.
REPLAY_KEY = "sk-replay"
TAIL = re.compile(r"\n(Inquiries remaining: \d+ \nTool and Question:|The investigation is complete\..*)$")
RECORDS = [json.loads(line) for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line.strip()]


class LALM(Tool):
    """Upstream's only tool: an audio LLM answering one question about the clip (by URL)."""

    name = "LALM"
    description = "get the answer from an audio clip and a question"
    modalities = ("audio",)
    input_model = QuestionInput
    asks_questions = True
    needs_api = True

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        content = [
            {"type": "input_audio", "input_audio": {"data": media.source, "format": "wav"}},
            {"type": "text", "text": f"Question: {query.question}"},
        ]
        reply = await current_services().llm("observer").chat([{"role": "user", "content": content}])
        return [Observation(tool=self.name, kind="description", content=reply.content or "")]


def responder(record: dict[str, Any]):
    traj = record["omni_detective_trajectory"]
    questions = [m["content"] for m in traj[2:-1:2]]
    answers = {}
    for i in range(2, len(traj) - 1, 2):
        question = json.loads(traj[i]["content"])["question"]
        observed = TAIL.sub("", traj[i + 1]["content"]).removeprefix("Observation: ")
        answers.setdefault(question, observed)
    state = {"turn": 0}

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == "observer-model":
            text = body["messages"][0]["content"][1]["text"].removeprefix("Question: ")
            assert body["messages"][0]["content"][0]["input_audio"]["data"] == record["url"]
            return httpx.Response(200, json=completion(answers[text]))
        last = body["messages"][-1]["content"]
        if "The investigation is complete" in last:
            return httpx.Response(200, json=completion(traj[-1]["content"]))
        reply = questions[state["turn"]]
        state["turn"] += 1
        return httpx.Response(200, json=completion(reply))

    return respond


@pytest.mark.parametrize("record", RECORDS, ids=[f"id{r['id']}" for r in RECORDS])
def test_replay_upstream_trajectory(record: dict[str, Any]) -> None:
    traj = record["omni_detective_trajectory"]
    settings = Settings(
        api_key=REPLAY_KEY,
        base_url="https://dashscope.test/v1",
        backoff=0.0,
        roles={"observer": RoleSettings(model="observer-model")},
    )
    media = MediaInfo(source=record["url"], duration=30.0, has_audio=True)
    det = Detective(
        tools=[LALM()], planner=LLMPlanner(function_calling=False), captioner="chat", max_rounds=10, settings=settings
    )
    with respx.mock:
        respx.post("https://dashscope.test/v1/chat/completions").mock(side_effect=responder(record))
        result = det.run(record["url"], media=media)
    ours = result.trajectory
    assert len(ours) == len(traj) == 23
    assert [m["role"] for m in ours] == [m["role"] for m in traj]
    # every message after our own system prompt is the recorded one, byte for byte
    assert [m["content"] for m in ours[1:]] == [m["content"] for m in traj[1:]]
    assert result.caption_markdown == json.loads(traj[-1]["content"])
    assert result.stop_reason == "max_rounds (10) reached"
    assert result.usage.llm_calls == 11 + result.usage.tool_calls["LALM"]
