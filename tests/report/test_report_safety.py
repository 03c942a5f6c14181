"""Report pages never overwrite each other and never run what a record holds: file names and escaping."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from detective.report.html import caption_html, normalise, page_names, render_html, write_reports


def _record(clip_id: str, caption: str = "## Storyline\n00:00.000 - 00:02.000\nA tone sounds.") -> dict[str, Any]:
    """A small, valid batch record (the older shape, without ``record_version``)."""
    return {
        "id": clip_id,
        "path": "clip.wav",
        "caption": caption,
        "caption_struct": {"storyline": [{"span": {"start": 0, "end": 2}, "text": "A tone sounds."}]},
        "evidence": {
            "observations": [
                {"tool": "audio_events", "kind": "sound_event", "content": "tone", "span": {"start": 0, "end": 2}}
            ]
        },
        "usage": {"tool_calls": {"audio_events": 1}},
        "provenance": {"package_version": "0.1.0"},
        "stop_reason": "rounds done",
    }


class _Text(HTMLParser):
    """The page's visible text and the tags it opens."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.h1 = ""
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_h1 = tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        self._in_h1 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h1:
            self.h1 += data


def parse(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    return parser


AWKWARD_IDS = [
    "a/b",
    "a_b",
    "a b",
    "A/B",
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\system32",
    ".hidden",
    "café",
    "cafe\u0301",  # the same word, decomposed: a different id, so a different page
    "日本語のクリップ",
    "🎬🎬",
    "x" * 1000,
    "x" * 999 + "y",
    "",
    "-",
]


def test_names_never_collide_and_stay_in_the_folder() -> None:
    names = page_names(AWKWARD_IDS, "index")
    assert len(set(names)) == len(AWKWARD_IDS)
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.isascii() and len(name.encode()) <= 100, name
        assert name.startswith("index-") and name.endswith(".html")
    by_id = dict(zip(AWKWARD_IDS, names, strict=True))
    assert by_id["a/b"].startswith("index-a_b-") and by_id["café"].startswith("index-cafe-")  # still readable
    assert by_id["日本語のクリップ"].startswith("index-clip-")  # nothing readable left: a neutral word and the hash


def test_names_are_stable_and_repeated_ids_get_their_own_page() -> None:
    assert page_names(["a/b"], "r") == page_names(["a/b"], "r")  # the same id, the same file, run after run
    first, second = page_names(["same", "same"], "r")
    assert first != second and second == first.removesuffix(".html") + "-2.html"


def test_a_shared_hash_prefix_is_lengthened() -> None:
    ids = ["a/b" + "/" * n for n in range(300)]  # one slug ("a_b") for all; 300 ids over 256 two-digit prefixes
    names = page_names(ids, "r", digits=2)
    assert len(set(names)) == len(ids)
    assert {name.split("-")[1] for name in names} == {"a_b"}
    assert all(len(name.split("-")[2].removesuffix(".html")) > 2 for name in names)


def test_colliding_ids_get_pages_of_their_own(tmp_path: Path) -> None:
    source = tmp_path / "out.jsonl"
    source.write_text("\n".join(json.dumps(_record(i)) for i in AWKWARD_IDS) + "\n", encoding="utf-8")
    site = tmp_path / "site"
    written = write_reports(source, site / "index.html")
    pages = written[1:]
    assert len(pages) == len(AWKWARD_IDS) and len(set(pages)) == len(pages)
    assert sorted(os.listdir(site)) == sorted(["index.html", *(p.name for p in pages)])  # nothing left the folder
    assert not (tmp_path / "etc").exists()
    for clip_id, page in zip(AWKWARD_IDS, pages, strict=True):
        shown = parse(page.read_text(encoding="utf-8")).h1
        assert shown == (clip_id or "clip.wav"), "each page is the page of its own record"
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in pages:
        assert f'href="{page.name}"' in index


def test_a_caption_holding_html_is_shown_as_text() -> None:
    evil = "<script>alert(1)</script>"
    caption = f"## Storyline\n00:00.000 - 00:02.000\nA tone sounds. {evil}\n\n## Notes\n<img src=x onerror=alert(2)>"
    record = _record('"><script>alert(3)</script>', caption)
    record["evidence"]["observations"][0]["content"] = "<b onmouseover=alert(4)>tone</b>"
    record["provenance"]["model"] = "<iframe src=//example.invalid>"
    page = render_html(normalise(record))
    parsed = parse(page)
    assert not {"img", "iframe", "b"} & set(parsed.tags)
    assert parsed.tags.count("script") == 1  # the page's own player script, at the end; nothing from the record
    assert "alert(" not in page.rsplit("<script>", 1)[1]
    text = "".join(parsed.text)
    assert evil in text and "<img src=x onerror=alert(2)>" in text and "<b onmouseover=alert(4)>tone</b>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_caption_markdown_is_rendered_line_by_line() -> None:
    markdown = (
        "## Storyline\n00:00.000 - 00:02.000\nA **loud** tone.\n\n## Visible Text\n01:02:03.000 - 01:02:04.000\n"
        "“EXIT”: red sign\n\n## Links\n![pixel](http://example.invalid/p.png) [docs](https://example.invalid/)\n"
    )
    out = caption_html(markdown)
    assert "<h3>Storyline</h3>" in out and "<h3>Visible Text</h3>" in out
    assert '<p class="span">00:00.000 - 00:02.000</p>' in out
    assert '<p class="span">01:02:03.000 - 01:02:04.000</p>' in out
    assert "<p>A <strong>loud</strong> tone.</p>" in out and "<p>“EXIT”: red sign</p>" in out
    assert "<img" not in out and " src=" not in out  # images would be fetched: shown as text
    assert '<a href="https://example.invalid/">docs</a>' in out
    assert caption_html("  \n") == '<p class="muted">(empty caption)</p>'


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4="])
def test_links_that_would_run_code_are_not_links(bad: str) -> None:
    out = caption_html(f"[click]({bad})")
    assert "href" not in out
