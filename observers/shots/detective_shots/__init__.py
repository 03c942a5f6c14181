"""The ``shots`` observer: shot spans of a video from PySceneDetect's ContentDetector."""

from detective.lazy import lazy_exports

__all__ = ["ShotsInput", "ShotsTool", "detect_shots"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_shots.tool": ["ShotsInput", "ShotsTool", "detect_shots"],
    },
)
