"""Masking of personal data before it reaches a log line."""

from __future__ import annotations


def mask_number(number: str | None) -> str:
    """Mask a caller number for logs, keeping only its last three digits.

    >>> mask_number("+4915112345678")
    '***********678'
    """
    if not number:
        return "<none>"
    keep = 3 if len(number) > 4 else 1
    return "*" * (len(number) - keep) + number[-keep:]
