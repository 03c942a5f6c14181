"""omni-detective scene observer: what each shot appears to show and the faces in it (models inside the package)."""

from detective.lazy import lazy_exports

__all__ = ["SceneInput", "SceneTool"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_scene.tool": ["SceneInput", "SceneTool"],
    },
)
