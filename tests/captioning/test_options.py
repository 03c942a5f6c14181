"""Typed captioner options: each captioner declares its model, the run validates the configuration against it."""

from __future__ import annotations

import pytest
from detective_captioning.options import DirectOptions, LLMOptions, TemplateOptions

from detective import Detective
from detective.captioning import Captioner, CaptionerOptions, CaptionJob, CaptionOutput
from detective.errors import SettingsError
from detective.models import Evidence, MediaInfo
from detective.plugins import get_registry


def _options(captioner: object, **options: object) -> object:
    detective = Detective(tools=[], planner="rule", captioner=captioner, offline=True, captioner_options=options)
    return detective.toolbox.captioner_options


def test_the_chosen_captioners_model_types_the_options() -> None:
    options = _options("llm", strict_grounding=True, temperature="0.5")
    assert options == LLMOptions(strict_grounding=True, temperature=0.5)
    assert options.get("temperature") == 0.5 and options.get("missing", 7) == 7  # read like the old dict
    assert _options("direct", no_prompt=True, chunk_seconds=10) == DirectOptions(no_prompt=True, chunk_seconds=10)


def test_another_captioners_options_are_left_out_not_refused() -> None:
    # one configuration for online (llm) and offline (template) runs: the template captioner has no options
    assert _options("template", strict_grounding=True, temperature=0.1) == TemplateOptions()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temprature": 1}, "no captioner has an option 'temprature' (the llm captioner's options: max_tokens, "),
        ({"temperature": "hot"}, "the llm captioner's option 'temperature' must be a number, not 'hot'"),
        ({"max_tokens": 0}, "the llm captioner's option 'max_tokens' must be more than 0, not 0"),
    ],
)
def test_a_bad_option_is_named(options: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match="captioner_options: ") as caught:
        _options("llm", **options)
    assert message in str(caught.value)


class Untyped(Captioner):
    """A third-party captioner without an options model."""

    name = "untyped"

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        raise NotImplementedError


def test_a_captioner_without_a_model_gets_a_dict() -> None:
    assert _options(Untyped(), anything=1, strict_grounding=True) == {"anything": 1, "strict_grounding": True}


def test_the_plugin_hook_declares_the_models() -> None:
    captioners = get_registry().captioners
    assert captioners["llm"].options.model_fields.keys() == LLMOptions.model_fields.keys()
    assert captioners["evidence"].options is CaptionerOptions  # a class factory's own options_model


def test_a_dict_given_to_a_captioner_directly_is_validated_by_it() -> None:
    from detective_captioning.llm import LLMCaptioner

    job = CaptionJob(media=MediaInfo(source="x.wav", duration=1.0), evidence=Evidence(), options={"max_tokens": 5})
    assert LLMCaptioner().job_options(job) == LLMOptions(max_tokens=5)
    with pytest.raises(ValueError, match="max_tokens"):
        LLMCaptioner().job_options(job.model_copy(update={"options": {"max_tokens": -1}}))
    typed = job.model_copy(update={"options": LLMOptions(strict_grounding=True)})
    assert LLMCaptioner().job_options(typed).strict_grounding
