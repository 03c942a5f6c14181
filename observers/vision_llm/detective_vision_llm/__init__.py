"""omni-detective vision-LLM observer: questions about sampled frames to an OpenAI-compatible vision model."""

from detective.lazy import lazy_exports

__all__ = ["SYSTEM_PROMPT", "VisionLLMTool", "sample_times"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_vision_llm.tool": ["SYSTEM_PROMPT", "VisionLLMTool", "sample_times"],
    },
)
