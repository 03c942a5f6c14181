"""How the graph asks a planner: a planner that fails hands the clip to the rule planner's broad pass.

A planner fails by an error, by replies it cannot use, or by closing the case before any observer ran. The rule
planner then plans the rest of the investigation, with a note, so every available observer still runs and a
planner error never aborts a caption.
"""

from __future__ import annotations

import structlog

from detective.agent.rule_planner import RulePlanner
from detective.logs import redact
from detective.planning import Plan, PlanInput, Planner

log = structlog.get_logger("detective.agent.fallback")


async def plan_or_fall_back(planner: Planner, inp: PlanInput, fallback_since: int = 0) -> Plan:
    """Ask ``planner`` for round ``inp.round``; fall back to the rule planner's broad pass when it cannot plan.

    ``fallback_since`` is the round the clip fell back at (0: it has not); from then on the rule planner plans
    every round. The plan made by the fallback has ``fallback=True`` and, in the round it starts, a note saying why.
    """
    if fallback_since:
        return await _rule_plan(inp, fallback_since)
    try:
        decision = await planner.plan(inp)
    except Exception as exc:  # a planner error never aborts a caption: the clip is examined all the same
        reason = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
        decision = Plan(failed=reason)
    if not decision.failed and decision.finish and not decision.queries and not inp.evidence.answered:
        decision = decision.model_copy(update={"failed": "it closed the case before asking any observer"})
    if not decision.failed:
        return decision
    name = getattr(planner, "name", "") or type(planner).__name__
    note = (
        f"round {inp.round}: the {name} planner could not plan ({decision.failed}); "
        "the rule planner's broad pass ran instead"
    )
    log.warning("planner fell back", planner=name, reason=decision.failed)
    fallback = await _rule_plan(inp, inp.round)
    return fallback.model_copy(
        update={"trajectory": decision.trajectory, "notes": [*decision.notes, note], "rationale": note}
    )


async def _rule_plan(inp: PlanInput, since: int) -> Plan:
    """The rule planner's plan for ``inp``, its rounds counted from ``since`` (its broad pass comes first)."""
    rule = RulePlanner()
    answered = set(inp.evidence.answered)
    shifted = inp.model_copy(update={"round": inp.round - since + 1})
    decision = await rule.plan(shifted)
    if shifted.round == 1 and not [q for q in decision.queries if q.key not in answered]:
        decision = await rule.plan(shifted.model_copy(update={"round": 2}))
    return decision.model_copy(update={"fallback": True})
