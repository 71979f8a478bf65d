"""The event-log kinds: one catalogue, agreeing with the ACD's effects and used by producers."""

from __future__ import annotations

import re
from pathlib import Path

from acd import effects
from contracts import eventlog

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [p for d in ("cti", "acd", "ivr", "ccserver") for p in (ROOT / d).rglob("*.py")]


def catalogue() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(eventlog).items()
        if name.isupper() and isinstance(value, str)
    }


def test_the_acd_kinds_are_the_effects_kinds() -> None:
    kinds = {f"acd.{cls.kind}" for cls in effects.EffectBase.__subclasses__()}
    assert kinds == set(eventlog.ACD_KINDS)
    assert {v for v in catalogue().values() if v.startswith("acd.")} == kinds


def test_every_kind_is_produced_and_no_producer_spells_one_out() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    for name, kind in catalogue().items():
        if kind.startswith("acd."):
            continue  # produced as acd.<effect kind> by the routing plugin
        assert f"el.{name}" in text, f"{name} ({kind}) is produced nowhere"
    # kinds are the catalogue's names, never string literals, in the code that reads them
    readers = [*(ROOT / "ccserver" / "reporting").rglob("*.py"), *(ROOT / "ivr").rglob("*.py")]
    for path in readers:
        found = re.findall(
            r'"(?:call|channel|dial|acd|ivr|ticket|survey|outage)\.[a-z_]+"', path.read_text()
        )
        assert not found, f"{path.name} spells out {found}"
