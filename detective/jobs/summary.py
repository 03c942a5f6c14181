"""The summary of a job run: counts, usage over every attempt, cost, exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detective.models import Usage


def estimate_cost(usage: Usage, prices: dict[str, dict[str, float]] | None) -> float | None:
    """Dollars for ``usage`` under a price table ``{model: {"prompt": $/1M, "completion": $/1M}}``.

    ``None`` without a table; models missing from the table count as free (and are listed by the summary).
    """
    if not prices:
        return None
    total = 0.0
    for model, mu in usage.models.items():
        price = prices.get(model)
        if price:
            total += mu.prompt_tokens * float(price.get("prompt", 0.0)) / 1e6
            total += mu.completion_tokens * float(price.get("completion", 0.0)) / 1e6
    return total


@dataclass
class JobSummary:
    """The outcome of a job run. ``usage`` counts every call, those of failed and retried attempts included."""

    output_path: Path
    errors_path: Path
    title: str = "omni-detective run"
    unit: str = "clips"
    show_usage: bool = True  # False when the work meters its calls elsewhere (the cloze judge's own meter)
    done: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    duplicates: int = 0
    torn_bytes: int = 0
    bad_output_lines: int = 0
    previously_failed: int = 0
    failed_before: int = 0  # failed permanently in an earlier run, skipped by this one (listed in the errors file)
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    resume_seconds: float = 0.0
    cost_usd: float | None = None
    unpriced_models: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every item is done and every line was valid; 1 otherwise (130 when interrupted)."""
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.invalid or self.failed_before) else 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "output": str(self.output_path),
            "errors": str(self.errors_path),
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "failed_before": self.failed_before,
            "repaired_bytes": self.torn_bytes,
            "bad_output_lines": self.bad_output_lines,
            "llm_calls": self.usage.llm_calls,
            "cached_calls": sum(m.cached_calls for m in self.usage.models.values()),
            "tokens": self.usage.total_tokens,
            "observer_calls": self.usage.observer_calls,
            "per_model": {
                name: {**m.model_dump(), "total_tokens": m.total_tokens} for name, m in self.usage.models.items()
            },
            "seconds": round(self.seconds, 3),
            "resume_seconds": round(self.resume_seconds, 3),
            "clips_per_minute": round(60.0 * self.done / self.seconds, 2) if self.seconds > 0 else None,
            "cost_usd": round(self.cost_usd, 6) if self.cost_usd is not None else None,
            "unpriced_models": self.unpriced_models,
            "interrupted": self.interrupted,
        }

    def render(self) -> str:
        """The human summary printed at the end of a run."""
        cached = sum(m.cached_calls for m in self.usage.models.values())
        lines = [
            f"{self.title}: {self.done} done, {self.failed} failed, {self.skipped} skipped (already done), "
            f"{self.invalid} invalid, {self.duplicates} duplicate in {self.seconds:.1f} s"
            + (" (interrupted)" if self.interrupted else ""),
        ]
        if self.failed_before:
            lines.append(
                f"  {self.failed_before} {self.unit} failed permanently in an earlier run and were skipped "
                "(--retry-failed tries them again)"
            )
        if self.show_usage:
            lines.append(
                f"  LLM calls {self.usage.llm_calls} (+{cached} from cache), tokens {self.usage.total_tokens}, "
                f"observer calls {self.usage.observer_calls}"
                + (f", cost ${self.cost_usd:.4f}" if self.cost_usd is not None else "")
            )
        for name, mu in sorted(self.usage.models.items()):
            lines.append(
                f"  {name}: {mu.calls} calls, {mu.prompt_tokens} prompt + {mu.completion_tokens} completion tokens"
                + (f", {mu.cached_calls} cached" if mu.cached_calls else "")
            )
        if self.unpriced_models:
            lines.append(f"  no price for: {', '.join(self.unpriced_models)} (counted as $0)")
        lines.append(f"  output: {self.output_path}")
        if self.failed or self.invalid or self.failed_before:
            lines.append(
                f"  errors: {self.errors_path} (the next run retries retryable failures; permanent ones with "
                "--retry-failed)"
            )
        return "\n".join(lines)
