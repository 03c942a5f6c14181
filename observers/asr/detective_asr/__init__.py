"""omni-detective ASR observer: faster-whisper with the bundled Whisper tiny.en model, offline."""

from detective_asr.tool import ASRTool, split_words

__all__ = ["ASRTool", "split_words"]
