"""Service level in the three variants in use (``shared/reference/kpis.md``).

T is the queue's threshold; a short abandon hung up before the short-abandon
threshold.

- ``answered_only`` (Asterisk "SL"): answered within T / answered;
- ``abandons_met`` (Asterisk "SL2"): (answered within T + abandoned within T) /
  (answered + abandoned);
- ``abandons_against`` (the strictest): answered within T /
  (answered + abandoned - short abandons).
"""

from __future__ import annotations

from typing import Literal

SlVariant = Literal["answered_only", "abandons_met", "abandons_against"]
SL_VARIANTS: tuple[SlVariant, ...] = ("answered_only", "abandons_met", "abandons_against")


def service_level(
    variant: str,
    *,
    answered_within: int,
    answered: int,
    abandoned_within: int,
    abandoned: int,
    short_abandons: int,
) -> float | None:
    """The service level by the named variant; None when no call counts."""
    if variant == "answered_only":
        num, den = answered_within, answered
    elif variant == "abandons_met":
        num, den = answered_within + abandoned_within, answered + abandoned
    elif variant == "abandons_against":
        num, den = answered_within, answered + abandoned - short_abandons
    else:
        raise ValueError(f"unknown service level variant {variant!r}")
    return num / den if den else None
