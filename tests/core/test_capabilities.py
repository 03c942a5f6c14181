"""What an endpoint's model can do: learnt once, kept for the run and in the cache, read from overflow errors."""

from __future__ import annotations

from pathlib import Path

from detective.jobs.cache import SQLiteCache
from detective.llm.capabilities import CapabilityStore, context_size_from_error, inputs_of, without_media
from detective.llm.settings import Settings

AUDIO = {"type": "input_audio", "input_audio": {"data": "data:audio/wav;base64,AAAA", "format": "wav"}}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def test_learnt_capabilities_are_kept_in_the_cache(tmp_path: Path) -> None:
    settings = Settings(api_key="k", base_url="http://127.0.0.1:9/v1")
    planner, observer = settings.endpoint("planner"), settings.endpoint("observer")
    cache = SQLiteCache(tmp_path / "c.sqlite")
    store = CapabilityStore(cache)
    assert store.get(planner).function_calling is None
    assert store.learn(planner, function_calling=False, context_size=4096)
    assert not store.learn(planner, function_calling=False)  # nothing new
    store.learn(observer, audio_input=False)
    cache.close()
    again = CapabilityStore(SQLiteCache(tmp_path / "c.sqlite"))  # the next run
    caps = again.get(planner)
    assert caps.function_calling is False and caps.context_size == 4096 and caps.accepts("audio") is None
    assert again.get(observer).accepts("audio") is False
    # models differ by id on the same endpoint
    other = settings.with_role("planner", model="other-model").endpoint("planner")
    assert again.get(other).function_calling is None


def test_configured_context_fills_an_unknown_one() -> None:
    endpoint = Settings(api_key="k").with_role("judge", context_size=2048).endpoint("judge")
    store = CapabilityStore()
    assert store.get(endpoint).context_size == 2048
    store.learn(endpoint, context_size=1024)  # what the endpoint said wins over the configuration
    assert store.get(endpoint).context_size == 1024


def test_context_size_from_the_wordings_of_real_servers() -> None:
    openai = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    llama = "Requested tokens (5000) exceed context window of 4096"
    assert context_size_from_error(openai) == 8192
    assert context_size_from_error(llama) == 4096
    assert context_size_from_error("something else went wrong") is None


def test_inputs_and_text_only_copies() -> None:
    messages = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": [AUDIO, IMAGE, {"type": "text", "text": "What?"}]},
    ]
    assert inputs_of(messages) == {"audio", "image"}
    stripped = without_media(messages)
    assert inputs_of(stripped) == set() and stripped[1]["content"] == "What?"
    assert messages[1]["content"][0] is AUDIO  # the original is untouched
    assert without_media([{"role": "user", "content": [AUDIO]}])[0]["content"] == "Reply OK."
