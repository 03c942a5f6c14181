"""omni-detective audio-LLM observer: questions about the sound to an OpenAI-compatible audio model."""

from detective_audio_llm.tool import SYSTEM_PROMPT, AudioLLMTool

__all__ = ["SYSTEM_PROMPT", "AudioLLMTool"]
