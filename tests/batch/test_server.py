"""The loopback OpenAI-compatible server: roles, scripted planning, counting and every injected fault."""

from __future__ import annotations

import json

import httpx
import pytest

from detective.testing import ChatServer, Faults, ScriptedDetective, request_kind

LISTEN = {
    "type": "function",
    "function": {
        "name": "listen",
        "description": "ask",
        "parameters": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
    },
}
FINISH = {"type": "function", "function": {"name": "finish", "parameters": {"type": "object", "properties": {}}}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "data:audio/wav;base64,AAAA", "format": "wav"}}


def post(server: ChatServer, body: dict, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(server.url + "/chat/completions", json=body, timeout=timeout)


def test_roles_and_scripted_rounds() -> None:
    with ChatServer(responder=ScriptedDetective(rounds=2)) as server:
        messages = [{"role": "user", "content": "plan"}]
        names = []
        for _ in range(3):
            reply = post(server, {"model": "m", "messages": messages, "tools": [LISTEN, FINISH]}).json()
            msg = reply["choices"][0]["message"]
            names.append([c["function"]["name"] for c in msg["tool_calls"]])
            for call in msg["tool_calls"]:
                json.loads(call["function"]["arguments"])  # valid JSON when no fault is injected
            messages = [*messages, msg]
        assert names == [["listen"], ["listen"], ["finish"]]
        first_args = json.loads(json.loads(json.dumps(messages[1]))["tool_calls"][0]["function"]["arguments"])
        assert "question" in first_args

        obs = post(server, {"model": "o", "messages": [{"role": "user", "content": [AUDIO]}]}).json()
        assert "tone" in obs["choices"][0]["message"]["content"]
        cap = post(server, {"model": "c", "messages": [{"role": "user", "content": "duration 12.0 s"}]}).json()
        text = cap["choices"][0]["message"]["content"]
        assert text.startswith("## Storyline") and "00:12.000" in text and "## Speakers and Transcript" in text
        assert cap["usage"]["total_tokens"] > 0 and cap["model"] == "c"
        assert server.stats.by_kind == {"planner": 3, "observer": 1, "captioner": 1}
        assert server.stats.requests == 5


def test_request_kind() -> None:
    assert request_kind({"messages": [], "tools": [LISTEN]}) == "planner"
    assert request_kind({"messages": [{"role": "user", "content": [AUDIO]}]}) == "observer"
    assert request_kind({"messages": [{"role": "user", "content": "write"}]}) == "captioner"


@pytest.mark.parametrize("kind", ["429", "500", "malformed", "truncated", "timeout"])
def test_each_fault(kind: str) -> None:
    faults = Faults(rate=1.0, kinds=(kind,), retry_after=0.25, timeout_sleep=0.6)
    with ChatServer(faults=faults) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "p"}], "tools": [LISTEN, FINISH]}
        if kind == "429":
            r = post(server, body)
            assert r.status_code == 429 and r.headers["retry-after"] == "0.25"
        elif kind == "500":
            assert post(server, body).status_code == 500
        elif kind == "malformed":
            r = post(server, body)
            assert r.status_code == 200
            args = r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            with pytest.raises(json.JSONDecodeError):
                json.loads(args)
        elif kind == "truncated":
            with pytest.raises(httpx.RemoteProtocolError):
                post(server, body)
        else:
            with pytest.raises(httpx.ReadTimeout):
                post(server, body, timeout=0.2)
        assert server.stats.faults[kind] == 1


def test_faults_are_seeded() -> None:
    def run(seed: int) -> list[int]:
        with ChatServer(faults=Faults(rate=0.5, kinds=("500",)), seed=seed) as server:
            return [post(server, {"messages": [{"role": "user", "content": "x"}]}).status_code for _ in range(20)]

    first = run(7)
    assert first == run(7)
    assert {200, 500} <= set(first)


def test_rejects_bad_fault_config() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Faults(rate=0.1, kinds=("boom",))
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        Faults(rate=2.0)
