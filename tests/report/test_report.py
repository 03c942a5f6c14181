"""The HTML run report: right items on the timeline, every round shown, self-contained; checked in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from detective.cli.report import report as report_cmd
from detective.report.html import ReportError, load_records, normalise, page_names, render_html

REPO = Path(__file__).resolve().parents[2]
KINDS = {"shot": "shot", "speech": "speech", "text": "text", "sound_event": "sound_event"}


class _Census(HTMLParser):
    """Counts ``<rect class="item item-X">`` per lane, observation rows and contradiction boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.items: Counter[str] = Counter()
        self.rows = 0
        self.contradictions = 0
        self.rounds: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "rect" and "item" in classes:
            self.items.update(c[len("item-") :] for c in classes if c.startswith("item-"))
        elif tag == "tr" and "obs" in classes:
            self.rows += 1
        elif tag == "div" and "contra" in classes:
            self.contradictions += 1
        elif tag == "div" and "round" in classes:
            self.rounds.append(dict(attrs).get("id") or "")


def census(page: str) -> _Census:
    parser = _Census()
    parser.feed(page)
    return parser


def expected_items(record: dict[str, Any]) -> Counter[str]:
    """What the timeline must show, counted straight from the record."""
    want: Counter[str] = Counter()
    for obs in record["evidence"]["observations"]:
        if obs["kind"] in {"shot", "speech", "text", "sound_event", "description"} and obs.get("span"):
            want[obs["kind"]] += 1
    want["contradiction"] = sum(1 for c in record["evidence"]["contradictions"] if c.get("span"))
    struct = record.get("caption_struct") or record.get("caption")
    want["storyline"] = len(struct["storyline"])
    return +want


def test_batch_record_timeline_rounds_and_caption(demo_batch: dict[str, Any]) -> None:
    record = demo_batch["record"]
    page = render_html(normalise(record))
    found = census(page)
    want = expected_items(record)
    assert {"shot", "speech", "text", "sound_event", "storyline"} <= set(want), "the demo run covers every lane"
    assert found.items == want
    assert found.rows == len(record["evidence"]["observations"])
    assert found.contradictions == len(record["evidence"]["contradictions"])
    rounds = {o["round"] for o in record["evidence"]["observations"]}
    assert {f"round-{n}" for n in rounds} <= set(found.rounds)
    assert "Ada Lovelace" in page and "## Storyline" not in page  # the caption is rendered, not dumped
    assert "split" in page and "docs" in page  # the record's input fields are shown


def test_runresult_json_shows_planned_queries_and_probed_media(demo_result_json: Path) -> None:
    result = json.loads(demo_result_json.read_text(encoding="utf-8"))
    report = normalise(load_records(demo_result_json)[0])
    assert report.duration == result["media"]["duration"] == 20.0
    page = render_html(report)
    found = census(page)
    assert found.items == expected_items(result)
    assert found.rounds == [f"round-{r['round']}" for r in result["rounds"]]
    planned = sum(len(r["planned"]) for r in result["rounds"])
    assert page.count("<li>") >= planned + sum(len(r["ran"]) for r in result["rounds"])
    assert "640×360" in page and result["stop_reason"] in page


def test_page_is_self_contained(demo_batch: dict[str, Any]) -> None:
    page = render_html(normalise(demo_batch["record"]))
    for needle in ("<link", "@import", "url(", "<iframe", "<script src"):
        assert needle not in page
    assert page.count("<svg") >= 1 and "<style>" in page
    # one inline script (the player's seeking); one src: the player's, the clip's own file
    assert page.count("<script>") == 1 and page.count(" src=") == 1
    (src,) = re.findall(r'<video id="player" controls preload="metadata" src="([^"]+)">', page)
    assert src.startswith("file:///") and src.endswith("/demo.mp4")


def test_paragraphs_stay_whole_and_every_source_is_listed(demo_result_json: Path, tmp_path: Path) -> None:
    from html.parser import HTMLParser

    out = tmp_path / "pages" / "report.html"
    assert CliRunner().invoke(report_cmd, [str(demo_result_json), "--out", str(out)]).exit_code == 0
    page = out.read_text(encoding="utf-8")
    # no block inside a <p> (a browser closes the <p> there: once, each sentence became a line of its own)
    nested: list[str] = []

    class Blocks(HTMLParser):
        open_p = 0

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "p":
                self.open_p += 1
            elif self.open_p and tag in {"div", "details", "ul", "ol", "li", "table", "p", "section"}:
                nested.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag == "p":
                self.open_p -= 1

    Blocks().feed(page)
    assert not nested, nested
    result = json.loads(demo_result_json.read_text(encoding="utf-8"))
    first = result["caption"]["storyline"][0]
    paragraph = page.split('<div class="storyline">', 1)[1].split("</p>", 1)[0]
    assert paragraph.count('class="sentence"') == sum(1 for s in first["sentences"] if s["sources"]) > 1
    # the sentence whose speech the screen repaired lists the ASR segment and the on-screen text that repaired it
    (repaired,) = [i for i, s in enumerate(first["sentences"]) if "Omni Detective" in s["text"]]
    sources = page.split(f'<ul class="sources" id="src-0-{repaired}" hidden>', 1)[1].split("</ul>", 1)[0]
    assert "<li>asr/speech 00:00.600" in sources
    assert (
        '<li class="repair">repaired “Army Detective Demonstration” → “Omni Detective Demonstration” from ocr/text'
        in sources
    )
    # the player plays the clip from a path relative to the page
    (src,) = re.findall(r' src="([^"]+)"', page)
    assert (out.parent / src).resolve() == Path(result["media"]["path"]).resolve()


def test_cli_single_and_many_records(demo_batch: dict[str, Any], tmp_path: Path) -> None:
    two = tmp_path / "two.jsonl"
    other = dict(demo_batch["record"], id="again")
    failed = {"id": "broken", "path": "missing.mp4", "error": "missing.mp4: no such file"}
    two.write_text("\n".join(json.dumps(r) for r in (demo_batch["record"], other, failed)) + "\n", encoding="utf-8")

    runner = CliRunner()
    one = runner.invoke(report_cmd, [str(two), "--id", "again", "--out", str(tmp_path / "again.html")])
    assert one.exit_code == 0, one.output
    assert "<h1>again</h1>" in (tmp_path / "again.html").read_text(encoding="utf-8")

    many = runner.invoke(report_cmd, [str(two), "--out", str(tmp_path / "all" / "index.html")])
    assert many.exit_code == 0, many.output
    index = (tmp_path / "all" / "index.html").read_text(encoding="utf-8")
    demo, again = page_names(["demo", "again"], "index")
    assert re.fullmatch(r"index-demo-[0-9a-f]{8}\.html", demo)  # readable, plus a hash of the exact id
    assert f'href="{demo}"' in index and f'href="{again}"' in index
    assert "no such file" in index  # the failed clip is listed with its error, not dropped
    assert (tmp_path / "all" / demo).exists() and (tmp_path / "all" / again).exists()

    unknown = runner.invoke(report_cmd, [str(two), "--id", "nope", "--out", str(tmp_path / "x.html")])
    assert unknown.exit_code == 1 and "no record with id 'nope'" in unknown.output and "demo" in unknown.output


def test_bad_inputs_are_explained(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ReportError, match="empty"):
        load_records(empty)
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"id": 1}\n{"id": 2, "evi\n', encoding="utf-8")
    with pytest.raises(ReportError, match=r"torn.jsonl:2: not a JSON line"):
        load_records(torn)
    with pytest.raises(ReportError, match="failed and has no run"):
        normalise({"id": "x", "error": "boom"})


def test_planned_queries_come_from_the_trajectory_when_rounds_are_absent() -> None:
    call = {"type": "function", "function": {"name": "vision_llm", "arguments": json.dumps({"question": "Who?"})}}
    record = {
        "id": "t",
        "caption": "## Storyline\n00:00.000 - 00:01.000\nA man.",
        "caption_struct": {"storyline": [{"span": {"start": 0, "end": 1}, "text": "A man."}]},
        "omni_detective_trajectory": [
            {"role": "system", "content": "detective"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": "A man in a hat."},
            {"role": "assistant", "content": '{"tool_name": "LALM", "question": "What is said?"}'},
        ],
        "evidence": {
            "observations": [
                {
                    "tool": "vision_llm",
                    "kind": "description",
                    "content": "A man in a hat.",
                    "span": {"start": 0, "end": 1},
                    "round": 1,
                }
            ]
        },
        "usage": {"models": {"gpt": {"calls": 3, "prompt_tokens": 100, "completion_tokens": 20}}},
        "provenance": {"package_version": "0.1.0"},
        "stop_reason": "planner finished",
    }
    page = render_html(normalise(record))
    assert "vision_llm “Who?”" in page and "LALM “What is said?”" in page
    assert census(page).items == {"storyline": 1, "description": 1}
    assert "Planner trajectory (4 messages)" in page and "<td>gpt</td><td>3</td>" in page


# --- real headless Chromium ---------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *extra,
        url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(profile)})


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (scripts/install-and-test.sh installs it)")
def test_report_renders_in_headless_chromium(demo_result_json: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert CliRunner().invoke(report_cmd, [str(demo_result_json), "--out", str(out)]).exit_code == 0
    result = json.loads(demo_result_json.read_text(encoding="utf-8"))

    dom = _chromium(out.as_uri(), tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = census(dom.stdout)
    assert found.items == expected_items(result), "the rendered DOM has the record's timeline items"
    assert found.rows == len(result["evidence"]["observations"])

    png = tmp_path / "report.png"
    shot = _chromium(out.as_uri(), tmp_path / "profile-shot", f"--screenshot={png}", "--window-size=1400,2000")
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    from PIL import Image

    with Image.open(png) as img:
        assert img.size == (1400, 2000)
        colours = img.convert("RGB").resize((350, 500)).getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50, "the page rendered more than a blank screen"


def test_each_storyline_sentence_shows_the_observations_behind_it(demo_batch: dict[str, Any]) -> None:
    record = demo_batch["record"]
    assert record["grounding"]["score"] == 1.0 and record["grounding"]["ungrounded"] == []
    page = render_html(normalise(record))
    assert "Grounding 1.0" in page
    sentences = [s for seg in record["caption_struct"]["storyline"] for s in seg["sentences"]]
    backed = [s for s in sentences if s["sources"]]
    assert backed and page.count('class="sentence"') == len(backed)
    # a sentence quoting speech lists the ASR observation under it, with its time
    assert any("“" in s["text"] for s in backed) and "asr/speech 00:0" in page


MEASURE = """<script>
const page = document.documentElement, box = document.querySelector("svg.timeline").getBoundingClientRect();
const frame = document.querySelector(".timeline-box").getBoundingClientRect();
const title = document.querySelector("svg.timeline .lane-title").getBoundingClientRect();
const sentence = [...document.querySelectorAll(".sentence")].find((s) => s.textContent.includes("Omni Detective"));
sentence.click();
const list = document.getElementById(sentence.dataset.sources);
document.body.setAttribute("data-measure", JSON.stringify({
  inner: window.innerWidth, scroll: page.scrollWidth, left: frame.left, right: frame.right, width: box.width,
  title: title.height, seek: document.getElementById("player").currentTime, start: Number(sentence.dataset.start),
  shown: !list.hidden, sources: [...list.children].map((li) => li.textContent)}));
</script></body>"""
#: The report's screenshots, kept after the run for a look at what CI saw ($OMNI_DETECTIVE_ARTEFACTS, else .cache).
SCREENS = Path(os.environ.get("OMNI_DETECTIVE_ARTEFACTS") or REPO / ".cache") / "report-screens"


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (scripts/install-and-test.sh installs it)")
@pytest.mark.parametrize("width", [800, 1400])
def test_report_reads_well_at_800_and_1400_px(demo_result_json: Path, tmp_path: Path, width: int) -> None:
    out = tmp_path / "report.html"
    assert CliRunner().invoke(report_cmd, [str(demo_result_json), "--out", str(out)]).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert 'width="100%"' in page and 'viewBox="0 0 1300 ' in page
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE), encoding="utf-8")
    size = f"--window-size={width},1200"
    dom = _chromium(measured.as_uri(), tmp_path / "profile-dom", "--dump-dom", size)
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('data-measure="') + len('data-measure="')
    found = json.loads(dom.stdout[start : dom.stdout.index('"', start)].replace("&quot;", '"'))
    assert found["inner"] == width
    assert found["scroll"] <= width, f"the page is {found['scroll']} px wide in a {width} px window"
    assert found["left"] >= 0 and found["right"] <= width  # the timeline's box fits; the drawing scrolls inside it
    # drawn at 1000 px or more, so its 14 px lane titles stay at least 10 px high however narrow the window
    assert found["width"] >= 1000 and found["title"] >= 10, found
    # a click on a sentence seeks the player to its moment and opens its sources, the repair among them
    assert found["seek"] == pytest.approx(found["start"]) and found["start"] > 0 and found["shown"]
    assert any(line.startswith("repaired “Army Detective Demonstration”") for line in found["sources"])
    SCREENS.mkdir(parents=True, exist_ok=True)
    png = SCREENS / f"report-{width}.png"
    shot = _chromium(out.as_uri(), tmp_path / "profile-shot", f"--screenshot={png}", size)
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    from PIL import Image

    with Image.open(png) as img:
        assert img.size == (width, 1200)


def test_legend_lists_only_what_the_clip_has(demo_batch: dict[str, Any]) -> None:
    record = demo_batch["record"]
    page = render_html(normalise(record))
    legend = page.split('<div class="legend">', 1)[1].split("</div>", 1)[0]
    drawn = {o["content"] for o in record["evidence"]["observations"] if o["kind"] == "sound_event" and o["span"]}
    from detective.report.html import _SOUND_COLOURS

    listed = {k for k in _SOUND_COLOURS if f"</i>{k}</span>" in legend}
    assert listed == drawn & set(_SOUND_COLOURS) and listed  # the demo has silence, a tone, noise, speech-like
    assert "music-like" not in listed  # never heard in the demo, so not in its legend


def test_index_lists_failed_clips_with_errors_and_usage_per_clip(demo_batch: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    other = dict(demo_batch["record"], id="again")
    out.write_text("\n".join(json.dumps(r) for r in (demo_batch["record"], other)) + "\n", encoding="utf-8")
    failure = {
        "key": "id:gone",
        "line": 3,
        "source": "/media/gone.mp4",
        "error": "/media/gone.mp4: no such file",
        "error_type": "MediaError",
        "retryable": False,
        "attempts": 1,
    }
    (tmp_path / "out.errors.jsonl").write_text(json.dumps(failure) + "\n", encoding="utf-8")
    result = CliRunner().invoke(report_cmd, [str(out), "--out", str(tmp_path / "site" / "index.html")])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "2 captioned · 1 failed" in index
    assert '<tr class="failed"><td>/media/gone.mp4</td><td>failed</td>' in index
    assert "no such file (MediaError, 1 attempt(s))" in index
    usage = demo_batch["record"]["usage"]
    calls = sum(usage["tool_calls"].values())
    assert index.count(f'<td class="num">{calls}</td>') >= 2  # each clip's observer calls
    assert f'<td class="num">{usage["seconds"]:.1f}</td>' in index
