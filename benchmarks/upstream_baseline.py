"""Upstream Omni-Detective's released pipeline beside ours, against the loopback server at equal observer answers.

``python benchmarks/upstream_baseline.py --upstream PATH`` runs the upstream release's own code (``main.py``,
``agent_lib.py``, ``tool_lib.py`` and ``prompt_lib.py`` of ``ddlBoJack/Omni-Captioner``'s ``Omni-Detective``
folder, as released: PATH is that folder, never copied into this repository) with only its hard-coded endpoint
pointed at the loopback server, the edit its README asks of users; then ours on the same clips, as a batch. Both
against the same :class:`~detective_testserver.ChatServer` in its own process, every call held ``--latency``
(100 ms), 100 clips, 10 in flight, 10 observer answers of 500 bytes per clip (upstream's fixed 10 inquiries; ours
``--per-round`` questions a round, 2 and 5). The clips are WAV files served over HTTP from the server's process,
given by URL as upstream requires; upstream hands the URL to its ``LALM`` model, and so does our ``audio_llm``.

Ours is the online default (``hybrid``: round 1 is the broad pass, here the two audio question tools' general
description, asked without a planner call; then the LLM planner) or ``--planner llm`` (the paper's pure LLM
planner, which plans round 1 too), with the default captioner. The scripted planner asks so many questions in
each round that a clip gets exactly 10 answers, and ``max_rounds`` is the rounds that takes, so no finishing call
is made (upstream makes none either: it always asks 10). The *ideal* is the same batch with no overhead: a clip
takes its critical path (the calls in sequence: for ours each round's planner call, then its questions at once,
then the caption; for upstream 10 agent and 10 observer calls, then the caption) at ``--latency`` each.

``--processes`` (default ``1 2``) runs ours once per value: 1 is one process, one event loop for the 10 clips in
flight; 2 is the batch's ``--processes 2`` (the ``processes`` executor: the clips in flight spread over two worker
processes, the parent writing the output), what a data team runs on a machine of two cores or more. Upstream's
release has no such option: its threads share one interpreter lock, and it is bound by its calls' latency, not its
CPU (its clips/min is within a few percent of its ideal).

Columns: ``calls/clip`` counted by the server; ``planner KB/clip`` what our planner (upstream's agent) was sent,
``prompt KB/clip`` what every call was sent; ``cpu ms`` the CPU time of this process and its worker processes (the
pipeline, not the server) per clip and per call; for ours in one process, ``clip wall ms`` a clip's run (median) and
``ms outside calls`` the part of it with none of its calls in flight (probing, graph, board and caption work, and
waiting for the event loop).
``--repeat`` runs every row once a repeat, upstream first, so the load of a shared machine weighs on both; each
ratio is ours against the upstream run of the same repeat. ``--timeline`` prints the calls of one clip.

The module also keeps :func:`run_upstream`, a faithful re-implementation of upstream's loop that
``benchmarks/pipeline.py`` uses as its baseline row when the release is not at hand, and
:class:`UpstreamResponder`, which lets the loopback server answer upstream's agent turns.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

TOOLS = [
    {"tool_name": "LALM", "description": "get the answer from an audio clip and a question"},
    {"tool_name": "ASR", "description": "Automatic speech recognition."},
    {"tool_name": "OCR", "description": "Optical character recognition."},
]
#: Upstream's agent system prompt as released (its length matters: the whole history is resent every turn).
SYSTEM = """You are a world-class audio detective. Your mission is to meticulously extract every last detail from a sound recording and generate a definitive, detailed description of this unknown sound clip.

**Focus on:**

1.  **Signal-Level:** The physical characteristics of the recording itself (e.g., is it high or low fidelity, is there clipping, static, hiss, hum, or other artifacts? What is the estimated frequency range?).
2.  **Perception-Level:** How the audio is perceived by a human ear (e.g., loudness, pitch, timbre, rhythm, clarity of speech, the spatial location of sounds).
3.  **Semantic-Level:** The explicit meaning and events within the audio (e.g., the specific words spoken, identifiable sounds like a "door slamming" or a "dog barking," the melody and instrumentation of music).
4.  **Cultural-Level:** The broader social and cultural context (e.g., the language and accent of speakers, the genre of music and its potential era/origin, the social setting implied by background sounds).

Please note that this breakdown into levels is merely meant to provide you with some areas of focus. Your final description should not adhere to this structure, nor is it limited to these points.

**Your Method:**

You cannot listen to the audio directly. Instead, you have access to several independent observers who have listened to it. You can interrogate them to gather clues.

- You have a total of **10 inquiries**.
- You have specific analysis tools from **{tools}**.
- For each turn, you must select **one tool** and ask **one question**, either general or specific. Question examples: "What language is being spoken?", "Describe the background music.", "Did you hear any sounds other than speech?", "What was the emotional tone of the woman's voice?".
- **Crucially, the observers are not perfect.** Their reports may be incomplete, biased, or contain errors. You must act as a detective: cross-reference their answers, identify contradictions, and build a case for what is actually in the audio.

**Output format each turn (JSON):**

```json
{{
  "tool_name": "<tool_name_from_tool_list>",
  "question": "<your_question_text>"
}}
```

**Your Final Output:**

When you have used all 10 inquiries (i.e., when 0 remain), you must stop asking questions and produce your final description.

Your final output must be exceedingly detailed. Provide a chronological storyline of every noticeable element within the audio, including but not limited to a full speech-to-text transcription, and all significant audio events. This storyline, however, is merely a foundation; your comprehensive description must extend far beyond this basic information.

Do not output any additional information."""  # noqa: E501 - upstream's text as released
FIRST = (
    "The investigation has started. Please give the first question. You can start with a general question like "
    '"Describe the audio clip as detailed as possible."\nInquiries remaining: 10 \nTool and Question:'
)
FINAL = "The investigation is complete. Please give the detailed description of the audio clip."
TURNS = 10
RETRIES = 1000


class UpstreamResponder:
    """Wraps a responder: upstream agent turns (system prompt asking for ``tool_name`` JSON) get a JSON query."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        messages = body.get("messages", [])
        system = messages[0].get("content") if messages and messages[0].get("role") == "system" else ""
        last = messages[-1].get("content") if messages else ""
        if (
            not body.get("tools")
            and isinstance(system, str)
            and '"tool_name"' in system
            and isinstance(last, str)
            and "investigation is complete" not in last
        ):
            turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
            reply = json.dumps({"tool_name": "LALM", "question": f"Turn {turn}: what is heard, and how loud?"})
            return "agent", {"role": "assistant", "content": f"```json\n{reply}\n```"}
        return self.inner(body)


def _create(client: openai.OpenAI, **kwargs: Any) -> Any:
    for _ in range(RETRIES):
        try:
            return client.chat.completions.create(**kwargs)
        except openai.OpenAIError:
            time.sleep(0.1)
    return None


def _parse(content: str) -> dict[str, str] | None:
    text = re.sub(r"^```(?:json)?|```$", "", content.strip(), flags=re.M).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"tool_name", "question"}:
        return None
    if data["tool_name"] not in {t["tool_name"] for t in TOOLS}:
        return None
    return data


def _tool(client: openai.OpenAI, name: str, question: str, audio: str) -> str | None:
    """One stateless observer call (only ``LALM`` works, as released)."""
    if name != "LALM":
        return "This tool is not available."
    content = [
        {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
        {"type": "text", "text": f"Question: {question}"},
    ]
    reply = _create(client, model="qwen3-omni-flash", messages=[{"role": "user", "content": content}])
    return reply.choices[0].message.content if reply else None


def investigate(client: openai.OpenAI, source: str) -> list[dict[str, Any]]:
    """Upstream's agent loop for one clip: 10 turns, then the final caption; returns the trajectory."""
    audio = "data:audio/wav;base64," + base64.b64encode(Path(source).read_bytes()).decode()
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(tools=json.dumps(TOOLS[:1]))},
        {"role": "user", "content": FIRST},
    ]
    for turn in range(TURNS):
        while True:
            reply = _create(client, model="gpt-4.1-2025-04-14", messages=messages)
            content = reply.choices[0].message.content if reply else ""
            query = _parse(content or "")
            if query is not None:
                break
        messages.append({"role": "assistant", "content": content})
        observation = _tool(client, query["tool_name"], query["question"], audio)
        remaining = TURNS - turn - 1
        tail = f"Inquiries remaining: {remaining} \nTool and Question:" if remaining else FINAL
        messages.append({"role": "user", "content": f"Observation: {observation}\n{tail}"})
    reply = _create(client, model="gpt-4.1-2025-04-14", messages=messages)
    messages.append({"role": "assistant", "content": reply.choices[0].message.content if reply else None})
    return messages


def run_upstream(manifest: Path, out: Path, base_url: str, workers: int) -> dict[str, Any]:
    """Process ``manifest`` upstream-style; returns wall time and per-clip seconds."""
    client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    items = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    lock = threading.Lock()
    seconds: list[float] = []
    failed = 0

    def process(item: dict[str, Any]) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            trajectory = investigate(client, item["url"])
        except Exception as exc:  # upstream prints and drops the item
            print(f"item {item.get('id')} failed: {exc}")
            with lock:
                failed += 1
            return
        record = {**item, "omni_detective_trajectory": trajectory}
        with lock, out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            seconds.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(process, items))
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "clip_seconds": seconds,
        "failed": failed,
    }


# --- the comparison: upstream's released code beside ours ---------------------------------------------------

#: Observer answers per clip, both pipelines (upstream's fixed 10 inquiries).
ANSWERS = 10


class ScheduleResponder:
    """The loopback server's answers for the comparison: upstream's agent turns as :class:`UpstreamResponder`;
    our planner's turns ask this round's share of the ``answers`` questions (``per_round`` a round, after the
    ``broad`` answers of a hybrid round 1), spread over the offered functions; everything else as ``inner``."""

    def __init__(self, inner: Any, per_round: int, broad: int, answers: int = ANSWERS) -> None:
        self.upstream = UpstreamResponder(inner)
        self.per_round, self.broad, self.answers = per_round, broad, answers

    def asks(self, round_no: int) -> int:
        """Questions the planner asks in ``round_no`` (0: it finishes)."""
        first = 2 if self.broad else 1  # the first round the planner plans
        before = self.broad + self.per_round * (round_no - first)
        return max(0, min(self.per_round, self.answers - before))

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if not body.get("tools"):
            return self.upstream(body)
        messages = body["messages"]
        most = re.search(r"at most (\d+) rounds", messages[0]["content"])
        left = re.findall(r"Inquiries remaining: (\d+)", str(messages[-1].get("content") or ""))
        round_no = int(most.group(1)) - int(left[-1]) + 1 if most and left else 1
        names = [t["function"]["name"] for t in body["tools"] if t["function"]["name"] != "finish"]
        count = self.asks(round_no)
        if not count or not names:
            call = {"id": f"fin{round_no}", "type": "function", "function": {"name": "finish", "arguments": "{}"}}
            return "planner", {"role": "assistant", "content": None, "tool_calls": [call]}
        calls = []
        for i in range(count):
            question = f"Round {round_no}, question {i + 1}: what is heard, and how loud is it?"
            arguments = json.dumps({"question": question})
            calls.append(
                {
                    "id": f"c{round_no}_{i}",
                    "type": "function",
                    "function": {"name": names[i % len(names)], "arguments": arguments},
                }
            )
        return "planner", {"role": "assistant", "content": None, "tool_calls": calls}


def _serve(conn: Any, latency: float, per_round: int, broad: int, answer_bytes: int, clips: str) -> None:
    """The chat server and an HTTP server of the clips, in a process of their own (their work does not compete
    with the pipeline measured for the GIL)."""
    from aiohttp import web
    from detective_testserver import AppServer, ChatServer, ScriptedDetective

    app = web.Application()
    app.router.add_static("/", clips)  # range requests and all: aiohttp's static files
    responder = ScheduleResponder(ScriptedDetective(answer_bytes=answer_bytes), per_round, broad)
    with AppServer(app) as files, ChatServer(latency=latency, responder=responder) as server:
        conn.send((server.url, files.base))
        conn.recv()  # until the parent says stop
        conn.send(server.stats.snapshot())


class Servers:
    """:func:`_serve` in a child process; ``stats`` holds the chat server's counters once it is left."""

    def __init__(self, latency: float, per_round: int, broad: int, answer_bytes: int, clips: Path) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.parent, child = ctx.Pipe()
        args = (child, latency, per_round, broad, answer_bytes, str(clips))
        self.proc = ctx.Process(target=_serve, args=args, daemon=True)
        self.stats: dict[str, Any] = {}

    def __enter__(self) -> Servers:
        self.proc.start()
        self.url, self.files = self.parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self.parent.send("stop")
        self.stats = self.parent.recv()
        self.proc.join(timeout=10)


def make_clips(root: Path, n: int) -> None:
    """``n`` half-second tones (each its own pitch) as 16 kHz WAV files."""
    import numpy as np

    from detective.media import wav_bytes

    t = np.arange(8000) / 16000.0
    for i in range(n):
        (root / f"clip{i:04d}.wav").write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (200.0 + 7.0 * i) * t)))


def write_manifest(path: Path, files: str, n: int) -> Path:
    """Upstream's input form, ``{"id", "url"}``, for the served clips."""
    path.write_text("".join(json.dumps({"id": i, "url": f"{files}/clip{i:04d}.wav"}) + "\n" for i in range(n)))
    return path


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the worker processes of a ``--processes`` run)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_released(upstream: Path, manifest: Path, out: Path, base_url: str, workers: int) -> dict[str, Any]:
    """Upstream's ``main.run_parallel`` as released over ``manifest``; only its ``API`` class's hard-coded URL and
    key are replaced (upstream's README asks users to edit them into the source). Its prints are silenced."""
    import contextlib
    import importlib
    import io
    import sys

    sys.path.insert(0, str(upstream))
    try:
        released = importlib.import_module("main")
    finally:
        sys.path.remove(str(upstream))
    if not hasattr(released, "OmniDetectiveAgent") or not hasattr(released, "run_parallel"):
        raise SystemExit(f"{upstream}/main.py is not upstream Omni-Detective's main.py")

    class LoopbackAPI(released.API):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.url = base_url + "/chat/completions"
            self.api_key = "sk-bench"
            self.headers = {"Content-Type": "application/json", "Authorization": self.api_key}

    released.API = LoopbackAPI
    started, cpu = time.perf_counter(), _cpu()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        released.run_parallel(
            num_workers=workers, function=released.omni_detective_agent, input_path=str(manifest), output_path=str(out)
        )
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    done = sum(1 for line in out.read_text().splitlines() if line.strip()) if out.exists() else 0
    return {"wall": wall, "cpu": cpu, "done": done}


def run_ours(
    manifest: Path, out: Path, base_url: str, workers: int, planner: str, max_rounds: int, processes: int = 1
) -> dict[str, Any]:
    """Ours as a batch over ``manifest``: two audio question tools, ``planner``, the default captioner; with
    ``processes`` > 1 the clips are spread over that many worker processes (``workers`` in flight in all)."""
    import asyncio
    import io

    from detective_audio_llm.tool import AudioLLMTool

    from detective.agent.batch import BatchConfig, job_config, make_executor
    from detective.agent.detective import Detective
    from detective.jobs import Job
    from detective.llm.client import EndpointLimits
    from detective.llm.settings import Settings

    class AudioDetail(AudioLLMTool):
        """A second audio-language model observer (fine detail), so a round can ask two models."""

        name = "audio_llm_detail"
        description = "Ask a second audio-language model for fine detail about the sound."

    settings = Settings.from_env(env={}, api_key="sk-bench", base_url=base_url, backoff=0.05, timeout=60.0)
    limits = EndpointLimits(max_concurrent=64)
    tools = [AudioLLMTool(), AudioDetail()]

    def factory() -> Detective:
        return Detective(tools=tools, planner=planner, settings=settings, limits=limits, max_rounds=max_rounds)

    config = BatchConfig(manifest, out, workers=workers, processes=processes)
    with Timeline() as timeline:
        started, cpu = time.perf_counter(), _cpu()
        summary = asyncio.run(Job(job_config(config), make_executor(config, factory), io.StringIO()).run())
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
    result: dict[str, Any] = {"wall": wall, "cpu": cpu, "done": summary.done, "failed": summary.failed}
    if processes == 1:  # the worker processes' own clocks are not seen here
        result["timeline"] = timeline
    return result


class Timeline:
    """Every clip's run and chat calls as this process saw them (``perf_counter`` seconds), while entered: what a
    clip spends outside any call is its wall time less the union of its calls. Two clock reads a call."""

    def __init__(self) -> None:
        self.clips: dict[str, tuple[float, float]] = {}
        self.calls: dict[str, list[tuple[str, float, float]]] = {}

    def __enter__(self) -> Timeline:
        from detective.agent.detective import Detective
        from detective.llm import LLMClient

        self._saved = (Detective.arun, LLMClient._call_once)
        arun, call_once = self._saved
        timeline = self

        async def timed_arun(det: Any, source: str, *, clip: str | None = None, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await arun(det, source, clip=clip, **kw)
            finally:
                timeline.clips[clip or source] = (t0, time.perf_counter())

        async def timed_call(client: Any, body: dict[str, Any]) -> Any:
            t0 = time.perf_counter()
            try:
                return await call_once(client, body)
            finally:
                clip = str(getattr(client.services, "clip", "") or "")
                timeline.calls.setdefault(clip, []).append((client.endpoint.role, t0, time.perf_counter()))

        Detective.arun, LLMClient._call_once = timed_arun, timed_call  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from detective.agent.detective import Detective
        from detective.llm import LLMClient

        Detective.arun, LLMClient._call_once = self._saved  # type: ignore[method-assign]

    def outside(self, clip: str) -> float:
        """Seconds of ``clip``'s run with none of its calls in flight."""
        t0, t1 = self.clips[clip]
        busy, reach = 0.0, t0
        for _role, a, b in sorted(self.calls.get(clip, []), key=lambda c: c[1]):
            a, b = max(a, reach), min(b, t1)
            if b > a:
                busy, reach = busy + b - a, b
        return (t1 - t0) - busy

    def summary(self) -> dict[str, float]:
        """Median clip wall time and median time outside calls (seconds), over the clips run."""
        import statistics

        if not self.clips:
            return {"clip_wall": 0.0, "outside": 0.0}
        walls = [b - a for a, b in self.clips.values()]
        return {
            "clip_wall": statistics.median(walls),
            "outside": statistics.median(self.outside(c) for c in self.clips),
        }

    def show(self, clip: str) -> str:
        """One clip's calls, in order, as milliseconds from the start of its run."""
        t0, t1 = self.clips[clip]
        lines = [f"clip {clip}: {1000 * (t1 - t0):.0f} ms, {1000 * self.outside(clip):.0f} ms outside any call"]
        for role, a, b in sorted(self.calls.get(clip, []), key=lambda c: c[1]):
            lines.append(f"  {role:<10} {1000 * (a - t0):7.0f} -> {1000 * (b - t0):7.0f} ms")
        return "\n".join(lines)


def schedule(planner: str, per_round: int, broad: int) -> list[int]:
    """Questions per round until the clip has :data:`ANSWERS` answers (round 1 first)."""
    rounds = [broad] if planner == "hybrid" else []
    while sum(rounds) < ANSWERS:
        rounds.append(min(per_round, ANSWERS - sum(rounds)))
    return rounds


def main() -> None:
    """Run upstream's release and ours at each ``--per-round`` and print the tables."""
    import argparse
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", type=Path, required=True, help="upstream's Omni-Detective folder (main.py …)")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=10, help="upstream's --num_workers, our --workers")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the server holds every reply")
    parser.add_argument("--per-round", type=int, nargs="+", default=[2, 5], help="our questions a round")
    parser.add_argument("--planners", nargs="+", default=["hybrid", "llm"], help="our planners to run")
    parser.add_argument("--answer-bytes", type=int, default=500, help="length of each observer answer")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs of every row; medians are kept")
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="our worker processes (the batch's --processes)"
    )
    parser.add_argument("--timeline", action="store_true", help="print the calls of the last row's median clip")
    args = parser.parse_args()
    from detective import logs

    logs.configure(level="ERROR")
    broad = 2  # our two audio question tools each describe the clip in a hybrid round 1
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clips").mkdir()
        make_clips(root / "clips", args.clips)
        shapes = [("upstream (released)", 1, [1] * ANSWERS, 1)]
        shapes += [
            (p, q, schedule(p, q, broad), n) for q in args.per_round for n in args.processes for p in args.planners
        ]
        # a warm-up clip batch first (lazy imports, first connections), not measured
        with Servers(args.latency, 5, broad, args.answer_bytes, root / "clips") as servers:
            manifest = write_manifest(root / "warm.jsonl", servers.files, min(args.clips, 10))
            run_ours(manifest, root / "warm-out.jsonl", servers.url, args.in_flight, "hybrid", 3)
        # each repeat runs every shape once, upstream first, so that the load of a shared machine weighs on all
        runs: list[list[dict[str, Any]]] = [[] for _ in shapes]
        for i in range(args.repeat):
            for n, (label, per_round, rounds, processes) in enumerate(shapes):
                with Servers(args.latency, per_round, broad, args.answer_bytes, root / "clips") as servers:
                    manifest = write_manifest(root / f"in-{n}-{i}.jsonl", servers.files, args.clips)
                    out = root / f"out-{n}-{i}.jsonl"
                    if label.startswith("upstream"):
                        res = run_released(args.upstream, manifest, out, servers.url, args.in_flight)
                    else:
                        res = run_ours(manifest, out, servers.url, args.in_flight, label, len(rounds), processes)
                res["stats"] = servers.stats
                runs[n].append(res)
                per_min = 60.0 * args.clips / res["wall"]
                print(
                    f"run {i + 1}: {label} at {per_round} a round, {processes} process(es): {per_min:.0f} clips/min",
                    file=sys.stderr,
                )
        for n, (label, per_round, rounds, processes) in enumerate(shapes):
            if label.startswith("upstream"):
                critical = 2 * ANSWERS + 1
            else:  # each round: the planner's call (none in a hybrid round 1), then its questions at once; a caption
                critical = 2 * len(rounds) + 1 - (1 if label == "hybrid" else 0)
            ratios = [runs[0][i]["wall"] / r["wall"] for i, r in enumerate(runs[n])]
            rows.append(_row(label, per_round, rounds, runs[n], critical, args, ratios, processes))
        timed = [r[-1] for r in runs if "timeline" in r[-1]]
        if args.timeline and timed:
            last = timed[-1]["timeline"]
            walls = sorted((b - a, c) for c, (a, b) in last.clips.items())
            print(last.show(walls[len(walls) // 2][1]), file=sys.stderr)
    _print(rows, args)


def _row(
    label: str,
    per_round: int,
    rounds: list[int],
    runs: list[dict[str, Any]],
    critical: int,
    args: Any,
    ratios: list[float],
    processes: int = 1,
) -> dict[str, Any]:
    import statistics

    res = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]  # the median run (the upper one of two)
    walls = [r["wall"] for r in runs]
    stats, clips = res["stats"], args.clips
    calls = stats.get("requests", 0)
    kinds = stats.get("by_kind", {})
    prompt = stats.get("prompt_bytes", {})
    planner_bytes = prompt.get("agent", 0) + prompt.get("planner", 0)
    ideal = 60.0 * args.in_flight / (critical * args.latency)
    per_min = 60.0 * clips / res["wall"]
    cpu = statistics.median(r["cpu"] for r in runs)
    clip = [r["timeline"].summary() for r in runs if "timeline" in r]
    return {
        "pipeline": label
        if label.startswith("upstream")
        else f"ours, {label} planner" + (f", {processes} processes" if processes > 1 else ""),
        "questions/round": "1" if label.startswith("upstream") else f"{per_round} ({'+'.join(map(str, rounds))})",
        "clips/min": round(per_min),
        "ideal clips/min": round(ideal),
        "% of ideal": f"{100 * per_min / ideal:.0f}%",
        "wall s (range)": f"{res['wall']:.1f} ({min(walls):.1f}-{max(walls):.1f})",
        "calls/clip": round(calls / clips, 1),
        "critical path calls": critical,
        "observer answers/clip": round(kinds.get("observer", 0) / clips, 1),
        "planner KB/clip": round(planner_bytes / clips / 1024, 1),
        "prompt KB/clip": round(sum(prompt.values()) / clips / 1024, 1),
        "cpu ms/clip": round(1000 * cpu / clips, 1),
        "cpu ms/call": round(1000 * cpu / calls, 2) if calls else "n/a",
        "clip wall ms": round(1000 * statistics.median(c["clip_wall"] for c in clip)) if clip else "n/a",
        "ms outside calls": round(1000 * statistics.median(c["outside"] for c in clip)) if clip else "n/a",
        "done": res["done"],
        "_per_min": per_min,
        "_ratios": ratios,
        "_calls": calls / clips,
        "_planner": planner_bytes,
        "_prompt": sum(prompt.values()),
        "_per_round": per_round,
    }


def _print(rows: list[dict[str, Any]], args: Any) -> None:
    import statistics

    print(
        f"\n{args.clips} clips, {args.in_flight} in flight, {args.latency * 1000:.0f} ms a call, "
        f"{ANSWERS} observer answers of {args.answer_bytes} bytes per clip; {args.repeat} interleaved run(s), "
        "the median shown\n"
    )
    head = [k for k in rows[0] if not k.startswith("_")]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in head) + " |")
    upstream = rows[0]
    print(
        "\n| ours vs upstream | questions/round | clips/min (each run against the upstream run before it) | "
        "calls/clip | planner prompt bytes | all prompt bytes |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows[1:]:
        ratios = row["_ratios"]
        each = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"| {row['pipeline']} | {row['_per_round']} | {statistics.median(ratios):.2f}x ({each}) | "
            f"{row['_calls']:.1f} / {upstream['_calls']:.1f} | {row['_planner'] / upstream['_planner']:.2f}x | "
            f"{row['_prompt'] / upstream['_prompt']:.2f}x |"
        )


if __name__ == "__main__":
    main()
