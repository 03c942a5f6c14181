"""omni-detective audio-LLM observer: questions about the sound to an OpenAI-compatible audio model."""

from detective.lazy import lazy_exports

__all__ = ["SYSTEM_PROMPT", "AudioLLMTool"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_audio_llm.tool": ["SYSTEM_PROMPT", "AudioLLMTool"],
    },
)
