"""``cloze predict`` with the LLM judge against a respx-mocked endpoint: retries, cache, resume, repair, no leaks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import respx
from detective_cloze.judges import LLMJudge
from detective_cloze.predict import run_predict
from detective_cloze.prompts import PROMPT_HASH

from detective.jobs.cache import SQLiteCache
from detective.llm.settings import Settings
from detective.runtime import RunServices
from detective.testing.fakes import completion

from .conftest import URL, make_record, read_jsonl, write_jsonl

GOLD_NAMES = ("answer", "distractors", "answer_index", "answer_key", "required_modality")
_BLANK = re.compile(r"\[(\d+)\] \((A: [^)]*)\)")


def fake_judge(request: httpx.Request) -> httpx.Response:
    """A judge that follows the rules: the option the caption states, else E; its reply wrapped in prose."""
    body = json.loads(request.content)
    user = body["messages"][1]["content"]
    caption = user.split("<caption>", 1)[1].split("</caption>", 1)[0]
    choices = {}
    for number, options in _BLANK.findall(user):
        picked = "E: not given"
        for part in options.split(" | "):
            letter, text = part.split(": ", 1)
            if letter != "E" and re.search(rf"\b{re.escape(text)}\b", caption):
                picked = f"{letter}: {text}"
        choices[number] = picked
    reply = "Here is the mapping.\n```json\n" + json.dumps(choices) + "\n```\nDone."
    return httpx.Response(200, json=completion(reply, model="judge-model"))


def _records() -> list[dict[str, Any]]:
    """4 records, 6 blanks each; record 4 has no caption."""
    golds = ["A", "B", "C", "D", "A", "B"]
    return [
        make_record(1, golds, caption="We see opt-1-A, opt-2-B and opt-3-D."),
        make_record(2, golds, caption="Only opt-6-B is there.", as_strings=True),
        make_record(3, golds, caption="Nothing stated."),
        make_record(4, golds, caption=None),
    ]


def _judge(settings: Settings, cache_path: Path | None) -> LLMJudge:
    cache = SQLiteCache(cache_path) if cache_path else None
    return LLMJudge(RunServices(settings=settings), cache=cache)


def _by_uuid(path: Path) -> dict[int, dict[str, Any]]:
    return {r["uuid"]: r for r in read_jsonl(path)}


@respx.mock
async def test_full_run_with_429_then_cache_then_resume(tmp_path: Path, settings: Settings) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _records())
    out = tmp_path / "out.jsonl"
    cache_path = tmp_path / "out.jsonl.judge-cache.sqlite"
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "0"}, json={"error": {"message": "slow"}})]
        + [fake_judge] * 20
    )
    summary = await run_predict(src, out, _judge(settings, cache_path), workers=3)
    assert route.call_count == 4  # 3 judged records + one 429 retried inside LLMClient; record 4 needs no call
    assert (summary.judged, summary.caption_missing, summary.call_failures) == (4, 1, 0)
    records = _by_uuid(out)
    assert records[1]["predictions"] == {"1": "A", "2": "B", "3": "D", "4": "E", "5": "E", "6": "E"}
    assert records[2]["predictions"] == {"1": "E", "2": "E", "3": "E", "4": "E", "5": "E", "6": "B"}
    assert records[3]["predictions"] == dict.fromkeys("123456", "E")
    assert records[4]["predictions"] == dict.fromkeys("123456", "E")
    assert records[4]["judge"]["caption_missing"] is True
    judge = records[1]["judge"]
    assert judge["model"] == settings.endpoint("judge").model
    assert judge["endpoint_host"] == "judge.test" and judge["prompt_hash"] == PROMPT_HASH
    assert judge["failed"] is False and "```json" in judge["raw_reply"]
    assert records[2]["cloze"] == _records()[1]["cloze"]  # input fields are carried through unchanged

    # A second run from scratch is served from the cache: zero requests.
    out.unlink()
    calls_before = route.call_count
    summary = await run_predict(src, out, _judge(settings, cache_path), workers=3)
    assert route.call_count == calls_before
    assert summary.cached == 3
    again = _by_uuid(out)
    assert {u: r["predictions"] for u, r in again.items()} == {u: r["predictions"] for u, r in records.items()}

    # Interrupted output: two whole lines and a torn third. Resume (no cache) judges only what is missing.
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    done = [line for line in lines if json.loads(line)["uuid"] in (1, 2)]
    torn = next(line for line in lines if json.loads(line)["uuid"] == 3)[:57]
    out.write_text("".join(done) + torn, encoding="utf-8")
    calls_before = route.call_count
    summary = await run_predict(src, out, _judge(settings, None), workers=3)
    assert route.call_count == calls_before + 1  # record 3 only (record 4 needs no call)
    assert (summary.already_done, summary.torn_lines_repaired, summary.judged) == (2, 1, 2)
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert sorted(r["uuid"] for r in read_jsonl(out)) == [1, 2, 3, 4]


@respx.mock
async def test_judge_never_sees_gold(tmp_path: Path, settings: Settings) -> None:
    """Every request body is free of gold field names and modality tags, and does not change with the gold."""
    route = respx.post(URL).mock(side_effect=fake_judge)
    golds_a = ["A", "B", "C", "D"] * 3
    golds_b = ["D", "C", "B", "A"] * 3
    for name, golds in (("a", golds_a), ("b", golds_b)):
        records = [make_record(i, golds, caption=f"Caption {i} mentions opt-2-C.", as_strings=i == 2) for i in (1, 2)]
        # an upstream-style record: modality tags and options inline, every gold field present
        records.append(
            {
                "uuid": 3,
                "cloze": {
                    "passage": "A [AUDITORY] (A: jingle | B: siren | C: stinger | D: drumroll | E: not given) plays.",
                    "blanks": [
                        {
                            "answer": "siren" if name == "a" else "drumroll",
                            "distractors": ["jingle", "stinger", "drumroll" if name == "a" else "siren"],
                            "answer_index": 1 if name == "a" else 3,
                            "answer_key": "B" if name == "a" else "D",
                            "required_modality": "auditory",
                        }
                    ],
                },
                "predicted_caption": "a siren",
            }
        )
        src = write_jsonl(tmp_path / f"in-{name}.jsonl", records)
        await run_predict(src, tmp_path / f"out-{name}.jsonl", _judge(settings, None), workers=2)
    bodies = [call.request.content.decode() for call in route.calls]
    assert len(bodies) == 6
    for body in bodies:
        messages = json.loads(body)["messages"]
        text = json.dumps(messages).lower()
        for name in GOLD_NAMES:
            assert name not in text
        for tag in ("[auditory]", "[visual]", "[audio-visual]", "modality", "correct"):
            assert tag not in text
        assert json.loads(body)["temperature"] == 0
    by_uuid: dict[str, list[str]] = {}
    for body in bodies:
        user = json.loads(body)["messages"][1]["content"]
        by_uuid.setdefault(user.split("<caption>")[1], []).append(user)
    # the same record with different gold gives byte-identical requests
    assert len(by_uuid) == 3 and all(len(set(v)) == 1 and len(v) == 2 for v in by_uuid.values())


@respx.mock
async def test_unreadable_reply_is_repaired(tmp_path: Path, settings: Settings) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion("I think the caption is fine.")),
            httpx.Response(200, json=completion('{"1": "A: opt-1-A", "2": "e"}')),
        ]
    )
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A", "B"])])
    out = tmp_path / "out.jsonl"
    summary = await run_predict(src, out, _judge(settings, tmp_path / "c.sqlite"))
    assert route.call_count == 2 and summary.judge_failures == 0
    record = read_jsonl(out)[0]
    assert record["predictions"] == {"1": "A", "2": "E"}
    assert record["judge"]["attempts"] == 2
    repair = json.loads(route.calls[1].request.content)["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == "I think the caption is fine."


@respx.mock
async def test_never_readable_counts_as_e_and_failed(tmp_path: Path, settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("no idea")))
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A", "B", "C"])])
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "c.sqlite"
    summary = await run_predict(src, out, _judge(settings, cache))
    assert route.call_count == 3  # the first ask and 2 repair attempts
    assert summary.judge_failures == 1
    record = read_jsonl(out)[0]
    assert record["predictions"] == {"1": "E", "2": "E", "3": "E"}
    assert record["judge"]["failed"] is True and "unparseable" in record["judge"]["error"]
    # done as far as resume goes (upstream's rule) ...
    await run_predict(src, out, _judge(settings, cache))
    assert route.call_count == 3
    # ... but not cached: --retry-failed asks again
    await run_predict(src, out, _judge(settings, cache), retry_failed=True)
    assert route.call_count == 6
    assert len(read_jsonl(out)) == 1


@respx.mock
async def test_call_failure_goes_to_the_errors_file_and_is_retried_next_run(tmp_path: Path, settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500, json={"error": {"message": "down"}}))
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A", "B"]), make_record(2, ["A"], caption=None)])
    out = tmp_path / "out.jsonl"
    summary = await run_predict(src, out, _judge(settings, None))
    assert summary.call_failures == 1 and route.call_count == settings.max_attempts and summary.exit_code == 1
    assert set(_by_uuid(out)) == {2}  # a failure is never written into the output
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["key"] == "uuid:1" and error["error_type"] == "LLMError" and error["uuid"] == 1
    assert "judge.test" in error["error"] and "500" in error["error"]
    route.mock(side_effect=fake_judge)
    summary = await run_predict(src, out, _judge(settings, None))
    assert (summary.already_done, summary.judged, summary.call_failures, summary.exit_code) == (1, 1, 0, 0)
    assert _by_uuid(out)[1]["judge"]["failed"] is False
    assert len(read_jsonl(out)) == 2
    assert not (tmp_path / "out.errors.jsonl").exists()


@respx.mock
async def test_repairs_replace_each_other(tmp_path: Path, settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("no idea")))
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A", "B", "C"])])
    await run_predict(src, tmp_path / "out.jsonl", _judge(settings, None))
    sizes = [len(json.loads(call.request.content)["messages"]) for call in route.calls]
    assert sizes == [2, 4, 4]  # each repair replaces the one before: the prompt does not grow


@respx.mock
async def test_a_prompt_over_the_context_fails_its_record_with_that_reason(tmp_path: Path, settings: Settings) -> None:
    overflow = {
        "error": {
            "message": "This model's maximum context length is 600 tokens. However, your messages resulted in "
            "2000 tokens.",
            "code": "context_length_exceeded",
        }
    }
    route = respx.post(URL).mock(return_value=httpx.Response(400, json=overflow))
    long_caption = "A very long caption. " * 400
    records = [make_record(1, ["A", "B"], caption=long_caption), make_record(2, ["A"], caption=long_caption)]
    src = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    summary = await run_predict(src, out, _judge(settings, None), workers=1)
    # the first record learns the window from the endpoint (no retry); the second is not even sent
    assert route.call_count == 1
    assert summary.context_failures == 2 and summary.call_failures == 0
    for record in read_jsonl(out):
        judge = record["judge"]
        assert judge["failed"] is True and judge["error_kind"] == "context"
        assert "context" in judge["error"] and record["predictions"]
    # a failure that would recur at temperature 0 is not judged again by the next run
    summary = await run_predict(src, out, _judge(settings, None))
    assert summary.already_done == 2 and route.call_count == 1


async def test_a_configured_context_is_checked_before_sending(tmp_path: Path, settings: Settings) -> None:
    small = settings.with_role("judge", context_size=300, max_tokens=100)
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"], caption="Words. " * 300)])
    with respx.mock:
        route = respx.post(URL).mock(side_effect=fake_judge)
        summary = await run_predict(src, tmp_path / "out.jsonl", _judge(small, None))
    assert route.call_count == 0 and summary.context_failures == 1
    error = read_jsonl(tmp_path / "out.jsonl")[0]["judge"]["error"]
    assert "do not fit the judge model's context of 300 tokens" in error


async def test_malformed_record_goes_to_the_errors_file(tmp_path: Path, settings: Settings) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"uuid": 1, "cloze": {"passage": "x", "blanks": []}}])
    out = tmp_path / "out.jsonl"
    summary = await run_predict(src, out, _judge(settings, None))
    assert summary.record_errors == 1 and summary.exit_code == 1
    assert read_jsonl(out) == []
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["error_type"] == "MalformedRecord" and "no blanks" in error["error"] and not error["retryable"]


def test_workers_bound_concurrency(tmp_path: Path, settings: Settings) -> None:
    import asyncio

    active = 0
    peak = 0

    class SlowJudge:
        def describe(self) -> dict[str, Any]:
            return {"name": "slow"}

        async def judge(self, record: dict[str, Any]) -> dict[str, Any]:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return {**record, "judge": {"failed": False}, "predictions": {}}

    src = write_jsonl(tmp_path / "in.jsonl", [make_record(i, ["A"]) for i in range(20)])
    summary = asyncio.run(run_predict(src, tmp_path / "out.jsonl", SlowJudge(), workers=4))
    assert summary.judged == 20 and peak == 4


def test_broken_input_line_is_reported_and_skipped(tmp_path: Path, settings: Settings) -> None:
    import asyncio
    import io

    from detective_cloze.judges import LexicalJudge

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(make_record(1, ["A"])) + "\n{oops\n" + json.dumps(make_record(2, ["A"])) + "\n")
    stream = io.StringIO()
    summary = asyncio.run(run_predict(src, tmp_path / "out.jsonl", LexicalJudge(), stream=stream))
    assert (summary.judged, summary.invalid_lines, summary.exit_code) == (2, 1, 1)
    assert "in.jsonl line 2: invalid JSON" in stream.getvalue()
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["key"] == "line:2" and error["error_type"] == "InvalidRecord"
