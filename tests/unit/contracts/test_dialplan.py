"""The dialplan contract against the shipped asterisk/extensions.conf, both ways."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from contracts import dialplan

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "asterisk" / "extensions.conf"

_VAR = re.compile(r"\bCC_[A-Z0-9_]+\b")
_AGI = re.compile(r"\bAGI\(\$\{CC_AGI\}/([A-Za-z0-9_]+)\)")
_GOTO = re.compile(r"\bGoto\(([^,()]+),([^,()]+|\$\{[A-Z0-9_]+\}),\w+\)")


@dataclass
class Dialplan:
    """The names one extensions.conf uses (comments left out)."""

    extensions: dict[str, set[str]] = field(default_factory=dict)
    routes: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    gotos: set[tuple[str, str]] = field(default_factory=set)


def parse(text: str) -> Dialplan:
    plan = Dialplan()
    context = None
    for raw in text.splitlines():
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        plan.variables.update(_VAR.findall(line))
        plan.routes.update(_AGI.findall(line))
        plan.gotos.update(_GOTO.findall(line))
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            context = header.group(1)
            if context != "globals":
                plan.extensions[context] = set()
            continue
        exten = re.match(r"exten\s*=>\s*([^,]+),", line)
        if exten and context is not None and context != "globals":
            plan.extensions[context].add(exten.group(1).strip())
    return plan


def drift(text: str) -> list[str]:
    """Where a dialplan and the contract disagree (nothing: they agree)."""
    plan = parse(text)
    out: list[str] = []
    if set(plan.extensions) != dialplan.CONTEXTS:
        out.append(f"contexts: conf {sorted(plan.extensions)} != {sorted(dialplan.CONTEXTS)}")
    for context, extens in sorted(plan.extensions.items()):
        want = dialplan.EXTENSIONS.get(context, frozenset())
        if extens != want:
            out.append(f"{context}: extensions {sorted(extens)} != {sorted(want)}")
    if plan.routes != dialplan.AGI_ROUTES:
        out.append(f"AGI routes: conf {sorted(plan.routes)} != {sorted(dialplan.AGI_ROUTES)}")
    unknown = plan.variables - set(dialplan.VARIABLES)
    if unknown:
        out.append(f"variables not in the contract: {sorted(unknown)}")
    unused = set(dialplan.VARIABLES) - plan.variables - dialplan.CCSERVER_ONLY_VARIABLES
    if unused:
        out.append(
            f"contract variables neither in the dialplan nor ccserver-only: {sorted(unused)}"
        )
    named = plan.variables & dialplan.CCSERVER_ONLY_VARIABLES
    if named:
        out.append(f"ccserver-only variables the dialplan names: {sorted(named)}")
    for context, exten in sorted(plan.gotos):
        if context not in dialplan.CONTEXTS:
            out.append(f"Goto to unknown context {context}")
        elif not exten.startswith("${") and exten not in dialplan.EXTENSIONS[context]:
            out.append(f"Goto to unknown extension {context},{exten}")
    return out


def test_the_shipped_dialplan_matches_the_contract() -> None:
    assert drift(CONF.read_text(encoding="utf-8")) == []


def test_the_parser_sees_what_the_shipped_dialplan_uses() -> None:
    plan = parse(CONF.read_text(encoding="utf-8"))
    assert plan.extensions["cc-wait"] == {"offer", "announce"}
    assert {"ivr", "survey", "wait_offer"} <= plan.routes
    assert {"CC_AGI", "CC_RING_TIMEOUT", "CC_AGENT_ENDPOINT"} <= plan.variables
    # names only in comments ("sets CC_QUEUE, CC_SKILLS, CC_PRIORITY...") do not count
    assert "CC_QUEUE" not in plan.variables
    assert ("cc-hold", "s") in plan.gotos


def test_drift_in_either_direction_is_reported() -> None:
    text = CONF.read_text(encoding="utf-8")
    renamed = text.replace("[cc-wait]", "[cc-waiting]")
    assert any("contexts" in p for p in drift(renamed))
    new_route = text.replace("/announce)", "/announce_v2)")
    assert any("AGI routes" in p for p in drift(new_route))
    new_var = text.replace("CC_RING_TIMEOUT=15", "CC_RING_TIMEOUT=15\nCC_NEW_THING=1")
    assert "variables not in the contract: ['CC_NEW_THING']" in drift(new_var)
    # a variable the contract says the dialplan uses, gone from the dialplan
    no_survey = text.replace('GotoIf($["${CC_SURVEY}" = "1"]?survey)', "NoOp()")
    assert any("'CC_SURVEY'" in p for p in drift(no_survey))
    # a ccserver-only variable the dialplan starts to read
    reads_queue = text.replace("MusicOnHold(default)", "MusicOnHold(${CC_QUEUE})")
    assert "ccserver-only variables the dialplan names: ['CC_QUEUE']" in drift(reads_queue)
    bad_goto = text.replace("Goto(cc-hold,s,1)", "Goto(cc-hold,t,1)", 1)
    assert "Goto to unknown extension cc-hold,t" in drift(bad_goto)
    new_exten = text.replace("exten => offer,1", "exten => offer2,1")
    assert any(p.startswith("cc-wait: extensions") for p in drift(new_exten))


def test_every_constant_is_in_its_collection() -> None:
    names = {n: getattr(dialplan, n) for n in dir(dialplan) if n.isupper()}
    for name, value in names.items():
        if name.startswith("CC_"):
            assert value == name, name  # a variable's constant is its own name
            assert value in dialplan.VARIABLES, name
        elif name.endswith("_CONTEXT"):
            assert value in dialplan.CONTEXTS, name
        elif name.startswith("ROUTE_"):
            assert value in dialplan.AGI_ROUTES, name
        elif name.endswith("_EXTEN"):
            assert any(value in e for e in dialplan.EXTENSIONS.values()), name
    assert set(dialplan.VARIABLES) >= dialplan.CCSERVER_ONLY_VARIABLES
    assert all(v.startswith(dialplan.VARIABLE_PREFIX) for v in dialplan.VARIABLES)


def _cc_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno} {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"CC_[A-Z0-9_]+", node.value)
    ]


def test_the_ivr_names_variables_only_through_the_contract() -> None:
    found = [hit for path in sorted((ROOT / "ivr").glob("*.py")) for hit in _cc_literals(path)]
    assert found == []
