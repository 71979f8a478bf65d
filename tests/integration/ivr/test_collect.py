"""A ``collect`` node: a number typed by the caller, into a channel variable for the agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "ivr.example.yaml"


@pytest.fixture
def ivr_overrides(tmp_path: Path) -> dict[str, Any]:
    menu = yaml.safe_load(EXAMPLE.read_text())
    menu["nodes"]["main"]["options"]["3"] = "contract"
    menu["nodes"]["contract"] = {
        "type": "collect",
        "prompt": ["cc-enter-contract"],
        "variable": "CC_CONTRACT",
        "min_digits": 6,
        "max_digits": 8,
        "retries": 1,
        "next": "agent",
    }
    path = tmp_path / "ivr.yaml"
    path.write_text(yaml.safe_dump(menu))
    return {"config": str(path)}


async def test_number_goes_to_the_agent_as_a_variable(hotline) -> None:
    # main menu "3", then a too-short number, then a good one ended by #
    call = await hotline.sim.place_call("5559990001", dtmf="13" + "123#" + "654321#" + "w")
    await hotline.finish(call, timeout=20)
    inputs = [
        (e.data["status"], e.data["digits"])
        for e in hotline.events(call.uniqueid, "ivr.input")
        if e.data["node"] == "contract"
    ]
    assert inputs == [("invalid", 3), ("ok", 6)]
    assert 'SET VARIABLE CC_CONTRACT "654321"' in hotline.agi(call)
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"


async def test_no_number_goes_to_the_fallback_queue(hotline) -> None:
    call = await hotline.sim.place_call("5559990001", dtmf="13" + "w" + "w")
    await hotline.finish(call, timeout=20)
    assert hotline.events(call.uniqueid, "ivr.retries_exhausted")[0].data["node"] == "contract"
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"
