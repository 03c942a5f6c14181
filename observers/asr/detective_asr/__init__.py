"""omni-detective ASR observer: faster-whisper with the bundled Whisper tiny.en model, offline."""

from detective.lazy import lazy_exports

__all__ = ["ASRTool", "split_words"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_asr.tool": ["ASRTool", "split_words"],
    },
)
