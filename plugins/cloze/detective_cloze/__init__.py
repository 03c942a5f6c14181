"""omni-detective-cloze: the Omni-Cloze judge (LLM, or an offline lexical proxy) and scorer as a plugin."""

from detective_cloze.judges import LexicalJudge, LLMJudge
from detective_cloze.predict import run_predict
from detective_cloze.records import Blank, ClozeFormatError, ClozeItem, judge_view, parse_cloze
from detective_cloze.replies import parse_reply
from detective_cloze.scoring import format_table, score_records

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
