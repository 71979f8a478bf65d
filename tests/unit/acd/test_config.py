"""The ACD configuration: validated, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import AcdConfigError, load_acd, load_simulation

ROOT = Path(__file__).resolve().parents[3]


def test_example_files_load() -> None:
    model = load_acd(ROOT / "config" / "acd.example.yaml")
    billing = next(q for q in model.queues if q.name == "billing").build()
    assert billing.skills == (("billing", 5),) and len(billing.escalation) == 2
    spec = load_simulation(ROOT / "config" / "scenarios" / "simulate-hotline.yaml").build()
    assert len(spec.agents) == 10 and spec.hours == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queues: []\n", "queues: List should have at least 1 item"),
        ("queues: [{name: q, skills: {s: 11}}]\n", "skill s: level 11 is not within 1-10"),
        ("queues: [{name: q, overflow_to: nowhere}]\n", "unknown queue 'nowhere'"),
        ("queues: [{name: q, strategy: random}]\n", "queues.0.strategy: Input should be"),
        (
            "queues: [{name: q}]\nagents: [{id: a, endpoint: '1'}, {id: a, endpoint: '2'}]\n",
            "agent ids must be unique",
        ),
        ("queues: [{name: q}]\nagents: [{id: a, endpoint: 'bad ext'}]\n", "agents.0.endpoint"),
    ],
)
def test_invalid_acd_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text(text)
    with pytest.raises(AcdConfigError) as info:
        load_acd(path)
    assert message in str(info.value)
