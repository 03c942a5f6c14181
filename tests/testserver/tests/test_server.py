"""The loopback OpenAI-compatible server: roles, scripted planning, counting, every injected fault, latencies."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
import pytest
from detective_testserver import (
    ChatServer,
    Faults,
    LogNormal,
    ScriptedDetective,
    ServerStartError,
    request_kind,
    server_process,
)

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


def settle(server: ChatServer, within: float = 3.0) -> None:
    """Wait until the server has finished counting every request it saw."""
    deadline = time.perf_counter() + within
    while server.stats.requests and server.stats.handler_seconds == 0.0 and time.perf_counter() < deadline:
        time.sleep(0.02)


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


@pytest.mark.parametrize("kind", ["429", "500", "malformed", "truncated", "timeout", "trickle"])
def test_each_fault(kind: str) -> None:
    faults = Faults(rate=1.0, kinds=(kind,), retry_after=0.25, timeout_sleep=0.6, trickle_seconds=0.6)
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
        elif kind == "trickle":  # every read waits far less than the client's read timeout: the reply arrives
            started = time.perf_counter()
            assert post(server, body, timeout=0.3).json()["choices"][0]["message"]["tool_calls"]
            assert time.perf_counter() - started >= 0.55
        else:
            with pytest.raises(httpx.ReadTimeout):
                post(server, body, timeout=0.2)
        assert server.stats.faults[kind] == 1
        settle(server)  # a trickle is counted once its last piece is sent: the client may read it first
        assert server.stats.ok == (kind in {"malformed", "trickle", "timeout"})  # held, then sent whole


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


def test_trickle_sends_small_pieces_with_short_pauses() -> None:
    faults = Faults(rate=1.0, kinds=("trickle",), trickle_seconds=0.8, trickle_interval=0.05)
    with ChatServer(faults=faults) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "duration 3.0"}]}
        started = time.perf_counter()
        arrivals, data = [], b""
        with httpx.stream("POST", server.url + "/chat/completions", json=body, timeout=0.3) as reply:
            assert reply.status_code == 200
            head = time.perf_counter() - started
            for chunk in reply.iter_raw():
                arrivals.append(time.perf_counter())
                data += chunk
        gaps = [b - a for a, b in zip([started, *arrivals], arrivals, strict=False)]
        assert head < 0.3  # the head is sent at once
        assert len(arrivals) >= 8 and max(gaps) < 0.25
        assert 0.7 <= arrivals[-1] - started < 3.0
        assert "Storyline" in json.loads(data)["choices"][0]["message"]["content"]


def test_a_client_leaving_a_trickle_is_not_counted_ok() -> None:
    faults = Faults(rate=1.0, kinds=("trickle",), trickle_seconds=0.6)
    with ChatServer(faults=faults) as server:

        async def give_up() -> None:
            async with httpx.AsyncClient() as client:
                with pytest.raises(TimeoutError):
                    body = {"messages": [{"role": "user", "content": "x"}]}
                    await asyncio.wait_for(client.post(server.url + "/chat/completions", json=body), 0.2)

        asyncio.run(give_up())
        settle(server)
        assert server.stats.faults["trickle"] == 1 and server.stats.ok == 0


def test_lognormal_matches_its_median_and_p95() -> None:
    dist = LogNormal(median=1.5, p95=6.0)
    rng = random.Random(5)
    draws = sorted(dist(rng) for _ in range(20000))
    assert draws[10000] == pytest.approx(1.5, rel=0.04)
    assert draws[19000] == pytest.approx(6.0, rel=0.06)
    assert statistics.fmean(draws) == pytest.approx(dist.mean, rel=0.05)
    with pytest.raises(ValueError, match="median <= p95"):
        LogNormal(median=2.0, p95=1.0)


@pytest.mark.parametrize(
    "latency", [0.15, (0.15, 0.2), LogNormal(median=0.16, p95=0.18), lambda rng: 0.15 + 0.01 * rng.random()]
)
def test_latency_kinds_hold_the_reply(latency: object) -> None:
    with ChatServer(latency=latency) as server:  # type: ignore[arg-type]
        started = time.perf_counter()
        assert post(server, {"messages": [{"role": "user", "content": "x"}]}).status_code == 200
        assert time.perf_counter() - started >= 0.14
        assert server.stats.handler_seconds >= 0.14


def test_draws_replay_with_the_seed() -> None:
    def draws(seed: int) -> list[tuple[str | None, float]]:
        server = ChatServer(latency=LogNormal(median=1.0, p95=3.0), faults=Faults(rate=0.5), seed=seed)
        return [server.draw() for _ in range(50)]

    first = draws(11)
    assert first == draws(11) and first != draws(12)
    assert len({fault for fault, _ in first}) > 2 and len({delay for _, delay in first}) == 50


def test_replies_are_held_concurrently() -> None:
    async def burst(url: str, n: int) -> list[int]:
        body = {"messages": [{"role": "user", "content": "x"}]}
        limits = httpx.Limits(max_connections=n)
        async with httpx.AsyncClient(limits=limits, timeout=20.0) as client:
            replies = await asyncio.gather(*(client.post(url + "/chat/completions", json=body) for _ in range(n)))
        return [r.status_code for r in replies]

    with ChatServer(latency=0.5) as server:
        started = time.perf_counter()
        assert asyncio.run(burst(server.url, 100)) == [200] * 100
        assert time.perf_counter() - started < 10.0  # one after another would take 50 s
        assert server.stats.ok == 100


def test_stop_drops_held_replies_promptly() -> None:
    server = ChatServer(faults=Faults(rate=1.0, kinds=("timeout",), timeout_sleep=30.0)).start()
    with pytest.raises(httpx.ReadTimeout):
        post(server, {"messages": [{"role": "user", "content": "x"}]}, timeout=0.2)
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 3.0
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018


def test_other_routes_and_big_bodies() -> None:
    with ChatServer(model="tiny") as server:
        assert httpx.get(server.url + "/models").json()["data"][0]["id"] == "tiny"
        missing = httpx.get(server.url + "/embeddings")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
        assert httpx.get(server.url + "/chat/completions").status_code == 405
        broken = httpx.post(server.url + "/chat/completions", content=b"{nope")
        assert broken.status_code == 400 and "invalid JSON" in broken.json()["error"]["message"]
        audio = {"type": "input_audio", "input_audio": {"data": "A" * 3_000_000, "format": "wav"}}
        reply = post(server, {"model": "o", "messages": [{"role": "user", "content": [audio]}]})
        assert reply.status_code == 200 and server.stats.prompt_bytes["observer"] > 3_000_000


def test_a_failing_responder_answers_500() -> None:
    def broken(body: dict) -> tuple[str, dict]:
        raise KeyError("messages")

    with ChatServer(responder=broken) as server:
        reply = post(server, {"messages": []})
        assert reply.status_code == 500 and "responder failed" in reply.json()["error"]["message"]
        assert server.stats.by_kind == {"error": 1} and server.stats.ok == 0


APP = """
import sys
from aiohttp import web
app = web.Application()
app.router.add_get("/ok", lambda request: web.json_response({"ok": True}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def test_server_process_waits_for_health_then_stops_the_process(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with server_process(
        lambda port: [sys.executable, "-c", APP, str(port)], name="app", health="/ok", log=log, deadline=30
    ) as base:
        assert base.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base}/ok", timeout=5).json() == {"ok": True}
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/ok", timeout=2)


def test_server_process_that_exits_names_itself_and_shows_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('no model file'); sys.exit(3)"]
    with (
        pytest.raises(ServerStartError, match=r"(?s)broken exited with 3:.*no model file"),
        server_process(lambda port: command, name="broken", health="/ok", log=tmp_path / "log", deadline=30),
    ):
        pass
