"""``cloze score``: per-blank outcomes and the Omni-Cloze metrics, overall and per category, subcategory, modality.

Each graded blank is exactly one of: correct (the gold letter), not given (E), wrong (another letter: a
hallucination) or unanswered (the judge gave nothing readable). Unanswered blanks count with not given in the
not-given rate and are also reported on their own. Metrics, all over every graded blank:

- accuracy = correct / total (the paper's headline);
- net = (correct − wrong) / total (the public port's headline);
- not-given rate = (not given + unanswered) / total; hallucination rate = wrong / total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detective_cloze.predict import key_of
from detective_cloze.records import MODALITIES, NOT_GIVEN, ClozeFormatError, normalise_id, parse_cloze

UNKNOWN = "(unknown)"


@dataclass
class Tally:
    """Blank outcomes of one group."""

    correct: int = 0
    wrong: int = 0
    not_given: int = 0  # E chosen
    unanswered: int = 0  # nothing readable; reported with not given

    def add(self, outcome: str) -> None:
        """Count one blank's outcome: ``correct``, ``wrong``, ``not_given`` or ``unanswered``."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def total(self) -> int:
        """Graded blanks."""
        return self.correct + self.wrong + self.not_given + self.unanswered

    def metrics(self) -> dict[str, Any]:
        """Counts and rates; rates are fractions in 0..1 (``None`` when there is no blank)."""
        total = self.total

        def rate(value: int) -> float | None:
            return round(value / total, 6) if total else None

        return {
            "total": total,
            "correct": self.correct,
            "wrong": self.wrong,
            "not_given": self.not_given + self.unanswered,
            "unanswered": self.unanswered,
            "accuracy": rate(self.correct),
            "not_given_rate": rate(self.not_given + self.unanswered),
            "hallucination_rate": rate(self.wrong),
            "net": rate(self.correct - self.wrong),
        }


def outcome(prediction: Any, gold: str) -> str:
    """The outcome of one blank given the judge's letter (or ``None``) and the gold letter."""
    letter = prediction.strip().upper()[:1] if isinstance(prediction, str) and prediction.strip() else None
    if letter is None or letter not in "ABCDE":
        return "unanswered"
    if letter == gold:
        return "correct"
    if letter == NOT_GIVEN:
        return "not_given"
    return "wrong"


def score_records(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Score judged records (the output of ``cloze predict``). A key seen twice counts once, the last record."""
    latest: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for record in records:
        key = key_of(record)
        duplicates += key in latest
        latest.pop(key, None)
        latest[key] = record
    overall = Tally()
    groups: dict[str, dict[str, Tally]] = {
        "category": defaultdict(Tally),
        "subcategory": defaultdict(Tally),
        "modality": defaultdict(Tally),
    }
    judges: dict[tuple[Any, ...], int] = defaultdict(int)
    counts = {
        "records": len(latest),
        "scored_records": 0,
        "duplicate_records": duplicates,
        "unjudged_records": 0,
        "unreadable_records": 0,
        "judge_failures": 0,
        "call_failures": 0,
        "caption_missing": 0,
        "ungraded_blanks": 0,
    }
    for record in latest.values():
        judge = record.get("judge")
        predictions = record.get("predictions")
        if not isinstance(judge, dict) or not isinstance(predictions, dict):
            counts["unjudged_records"] += 1
            continue
        judges[
            (
                judge.get("name"),
                judge.get("model"),
                judge.get("endpoint_host"),
                judge.get("prompt_hash"),
                judge.get("proxy"),
            )
        ] += 1
        if judge.get("failed"):
            kind = judge.get("error_kind")
            failure = {"call": "call_failures", None: "judge_failures"}.get(kind, "unreadable_records")
            counts[failure] += 1
        counts["caption_missing"] += bool(judge.get("caption_missing"))
        try:
            item = parse_cloze(record)
        except ClozeFormatError:
            counts["unreadable_records"] += judge.get("error_kind") != "record"
            continue
        counts["scored_records"] += 1
        given = {normalise_id(k): v for k, v in predictions.items()}
        category = item.category or UNKNOWN
        subcategory = f"{category} / {item.subcategory or UNKNOWN}"
        for blank in item.blanks:
            if blank.gold is None:
                counts["ungraded_blanks"] += 1
                continue
            result = outcome(given.get(blank.id), blank.gold)
            overall.add(result)
            groups["category"][category].add(result)
            groups["subcategory"][subcategory].add(result)
            groups["modality"][blank.modality or UNKNOWN].add(result)
    modality_order = [m for m in MODALITIES if m in groups["modality"]] + sorted(
        m for m in groups["modality"] if m not in MODALITIES
    )
    return {
        "overall": overall.metrics(),
        "by_modality": {m: groups["modality"][m].metrics() for m in modality_order},
        "by_category": {c: t.metrics() for c, t in sorted(groups["category"].items())},
        "by_subcategory": {s: t.metrics() for s, t in sorted(groups["subcategory"].items())},
        "counts": counts,
        "judges": [
            {"name": n, "model": m, "endpoint_host": h, "prompt_hash": p, "records": c, **({"proxy": x} if x else {})}
            for (n, m, h, p, x), c in sorted(judges.items(), key=lambda kv: str(kv[0]))
        ],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:6.2f}"


def format_table(result: dict[str, Any], show_subcategory: bool = False) -> str:
    """A readable report: judges, then a table of overall, per-modality, per-category (and subcategory) rows."""
    lines: list[str] = []
    for judge in result["judges"]:
        lines.append(
            f"judge: {judge['name']} model={judge['model']} endpoint={judge['endpoint_host']} "
            f"prompt_hash={judge['prompt_hash']} records={judge['records']}"
        )
        if judge.get("proxy"):
            lines.append(f"  NOTE: {judge['proxy']}")
    counts = result["counts"]
    lines.append(
        f"records: {counts['records']} scored, {counts['scored_records']} with blanks graded; "
        f"judge failures (counted as E): {counts['judge_failures']}; call failures: {counts['call_failures']}; "
        f"missing captions: {counts['caption_missing']}"
    )
    if counts["unreadable_records"] or counts["unjudged_records"] or counts["ungraded_blanks"]:
        lines.append(
            f"skipped: {counts['unreadable_records']} unreadable records, {counts['unjudged_records']} unjudged "
            f"records, {counts['ungraded_blanks']} blanks without a gold letter"
        )
    lines.append("")
    header = (
        f"{'group':<44} {'blanks':>7} {'correct':>7} {'wrong':>6} {'notgiv':>6} {'unans':>6} "
        f"{'acc%':>7} {'notgiv%':>7} {'halluc%':>7} {'net%':>7}"
    )
    lines.append(header)
    lines.append("-" * len(header))

    def row(name: str, m: dict[str, Any]) -> None:
        label = name if len(name) <= 44 else name[:41] + "..."
        lines.append(
            f"{label:<44} {m['total']:>7} {m['correct']:>7} {m['wrong']:>6} {m['not_given']:>6} "
            f"{m['unanswered']:>6} {_pct(m['accuracy']):>7} {_pct(m['not_given_rate']):>7} "
            f"{_pct(m['hallucination_rate']):>7} {_pct(m['net']):>7}"
        )

    row("OVERALL", result["overall"])
    for name, metrics in result["by_modality"].items():
        row(f"modality: {name}", metrics)
    for name, metrics in result["by_category"].items():
        row(f"category: {name}", metrics)
    if show_subcategory:
        for name, metrics in result["by_subcategory"].items():
            row(f"  {name}", metrics)
    lines.append("")
    lines.append("acc = correct/total (paper); net = (correct - wrong)/total (port); notgiv includes unanswered.")
    return "\n".join(lines)
