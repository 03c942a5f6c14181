"""omni-detective OCR observer: on-screen text tracks read with rapidocr (models inside the rapidocr wheel)."""

from detective.lazy import lazy_exports

__all__ = ["OCRInput", "OCRTool"]

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_ocr.tool": ["OCRInput", "OCRTool"],
    },
)
