"""IVR menu files: the example is valid; mistakes are named by node."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.menu import IvrConfigError, MenuNode, load_ivr, parse_ivr

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "ivr.example.yaml"


@pytest.fixture
def data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def test_example_is_a_complete_hotline() -> None:
    config = load_ivr(EXAMPLE)
    assert config.start == "language"
    actions = {n.action for n in config.nodes.values() if n.type == "action"}
    assert actions == {"balance", "fault_report", "outage_notice"}
    main = config.nodes["main"]
    assert isinstance(main, MenuNode) and set(main.options) == {"1", "2", "0"}
    prompts = config.all_prompts()
    assert "cc-welcome" in prompts and "cc-fault-no-power" in prompts and "cc-enter-pin" in prompts


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["nodes"]["main"]["options"].update({"1": "nowhere"}),
         "nodes.main: option 1 goes to 'nowhere', which is not a node"),
        (lambda d: d["nodes"]["main"]["options"].update({"12": "agent"}),
         "nodes.main: options: '12' is not a single key"),
        (lambda d: d.update(start="missing"), "start: no node named 'missing'"),
        (lambda d: d["nodes"]["balance"]["next"].update({"maybe": "main"}),
         "nodes.balance: next: balance has no outcome 'maybe'"),
        (lambda d: d["nodes"]["outage"].update(next={}),
         "nodes.outage: next.continue is required"),
        (lambda d: d["nodes"]["language"]["options"]["1"].update(language="fr"),
         "nodes.language: option 1: unknown language 'fr'"),
        (lambda d: d["nodes"]["main"].update(retries=42), "retries"),
        (lambda d: d["nodes"]["main"].update(type="dance"), "nodes.main"),
        (lambda d: d.update(prompts={"nonsense": "x"}), "unknown prompt roles ['nonsense']"),
        (lambda d: d["fault"]["categories"][1].update(digit="1"),
         "two categories use the same digit"),
    ],
)  # fmt: skip
def test_mistakes_are_named(data: dict[str, Any], change: Any, message: str) -> None:
    bad = copy.deepcopy(data)
    change(bad)
    with pytest.raises(IvrConfigError) as err:
        parse_ivr(bad, "ivr.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("ivr.yaml: ")


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(IvrConfigError, match="cannot read"):
        load_ivr(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(IvrConfigError, match="top level must be a mapping"):
        load_ivr(tmp_path / "list.yaml")


def test_collect_node_is_checked(data: dict[str, Any]) -> None:
    bad = copy.deepcopy(data)
    bad["nodes"]["num"] = {"type": "collect", "prompt": ["p"], "variable": "CC_X",
                           "min_digits": 9, "max_digits": 4, "next": "gone"}  # fmt: skip
    with pytest.raises(IvrConfigError) as err:
        parse_ivr(bad)
    assert "nodes.num: next goes to 'gone'" in str(err.value)
    assert "nodes.num: min_digits is more than max_digits" in str(err.value)
    bad["nodes"]["num"].update(variable="PIN", min_digits=1, next="main")
    with pytest.raises(IvrConfigError, match="variable"):
        parse_ivr(bad)
