"""The scorecard's arithmetic: a call's points on each criterion as one weighted percentage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..config import ScoreCriterion


class ScoreError(ValueError):
    """Points that do not fit the scorecard (the message names the criterion)."""


def weighted_score(scorecard: Sequence[ScoreCriterion], points: Mapping[str, int]) -> float:
    """``sum(weight * points / max_points) / sum(weight)`` as a percentage, 0-100.

    Every criterion needs its points (0..max_points); unknown criteria are refused.
    """
    ids = {c.id for c in scorecard}
    unknown = sorted(set(points) - ids)
    if unknown:
        raise ScoreError(f"no criterion {unknown[0]!r} on the scorecard")
    total = weights = 0.0
    for c in scorecard:
        if c.id not in points:
            raise ScoreError(f"{c.id}: points missing (0-{c.max_points})")
        given = points[c.id]
        if not 0 <= given <= c.max_points:
            raise ScoreError(f"{c.id}: {given} points is not within 0-{c.max_points}")
        total += c.weight * given / c.max_points
        weights += c.weight
    return round(100.0 * total / weights, 2)


def card_snapshot(scorecard: Sequence[ScoreCriterion]) -> list[dict[str, Any]]:
    """The criteria as a score keeps them (id, weight, max points)."""
    return [{"id": c.id, "weight": c.weight, "max_points": c.max_points} for c in scorecard]
