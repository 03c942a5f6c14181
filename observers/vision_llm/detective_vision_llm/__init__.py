"""omni-detective vision-LLM observer: questions about sampled frames to an OpenAI-compatible vision model."""

from detective_vision_llm.tool import SYSTEM_PROMPT, VisionLLMTool, sample_times

__all__ = ["SYSTEM_PROMPT", "VisionLLMTool", "sample_times"]
