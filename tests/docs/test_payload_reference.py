"""docs/plugins.md's observation-kind reference is the payload models' own: every kind, model and field."""

from __future__ import annotations

import importlib.util
import re
import typing
from pathlib import Path
from types import ModuleType

from detective import payloads
from detective.models import ObservationKind

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_gen_payloads", DOCS / "gen_payloads.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference() -> str:
    page = (DOCS / "plugins.md").read_text(encoding="utf-8")
    gen = _generator()
    return page[page.index(gen.START) : page.index(gen.END)]


def test_the_committed_reference_is_the_generated_one() -> None:
    gen = _generator()
    assert gen.render() in (DOCS / "plugins.md").read_text(encoding="utf-8"), "run: python docs/gen_payloads.py"


def test_every_kind_model_and_field_is_listed() -> None:
    text = _reference()
    for kind in typing.get_args(ObservationKind):
        model = payloads.PAYLOADS[kind]
        section = text[text.index(f"### `{kind}`: `{model.__name__}`") :]
        section = section[: section.find("\n### ", 1)]
        for name, field in model.model_fields.items():
            if name in payloads.Payload.model_fields:
                continue  # the base's fields are listed once, before the kinds
            assert re.search(rf"^\| `{re.escape(field.alias or name)}`", section, re.M), (kind, name)
    for name in payloads.Payload.model_fields:
        assert f"| `{name}` |" in text
    for nested in (payloads.Word, payloads.ImageClass, payloads.NounGuess, payloads.ClassScore):
        assert f"`{nested.__name__}`: " in text
        for name, field in nested.model_fields.items():
            assert f"| `{field.alias or name}`" in text, (nested.__name__, name)


def test_check_mode_detects_a_stale_reference(tmp_path: Path, monkeypatch) -> None:
    gen = _generator()
    stale = tmp_path / "plugins.md"
    stale.write_text(f"intro\n\n{gen.START}\n| `gone` | `str` | an old field |\n{gen.END}\n", encoding="utf-8")
    monkeypatch.setattr(gen, "PAGE", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    assert "`gone`" not in stale.read_text(encoding="utf-8")
