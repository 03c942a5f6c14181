"""omni-detective audio_tags observer (optional extra): AudioSet sound classes over time with YAMNet."""

from detective.lazy import lazy_exports

__all__ = ["AudioTagsInput", "AudioTagsTool"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_audio_tags.tool": ["AudioTagsInput", "AudioTagsTool"],
    },
)
