"""omni-detective-cloze: the Omni-Cloze judge (LLM, or an offline lexical proxy) and scorer as a plugin."""

from detective.lazy import lazy_exports

__all__ = [
    "Blank",
    "ClozeFormatError",
    "ClozeItem",
    "LLMJudge",
    "LexicalJudge",
    "format_table",
    "judge_view",
    "parse_cloze",
    "parse_reply",
    "run_predict",
    "score_records",
]
__version__ = "0.1.0"

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_cloze.judges": ["LexicalJudge", "LLMJudge"],
        "detective_cloze.predict": ["run_predict"],
        "detective_cloze.records": ["Blank", "ClozeFormatError", "ClozeItem", "judge_view", "parse_cloze"],
        "detective_cloze.replies": ["parse_reply"],
        "detective_cloze.scoring": ["format_table", "score_records"],
    },
)
