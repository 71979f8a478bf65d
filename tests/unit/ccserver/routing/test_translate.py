"""The routing plugin's reading of AMI events: correlation of calls, offers and dials.

The orchestrator is fed typed AMI events directly (as the CTI service does, after
the tracker applied them), on an injected clock; it is never connected, so no
AMI action leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_acd
from acd.effects import Adopted, Offer, Queued, Requeued
from acd.events import CallAdopted, DeviceChanged, OfferFailed, OfferFailure
from acd.model import AgentState, CallState, DeviceState
from ccserver.config import HotlineConfig
from ccserver.orchestrator import Orchestrator
from ccserver.tasks import TaskSupervisor
from contracts.sink import ListSink
from cti import events as ev
from cti.connection import AmiSettings
from cti.service import CtiService
from cti.wire import AmiMessage

ROOT = Path(__file__).resolve().parents[4]
CALLER = "PJSIP/trunk-00000001"


class Floor:
    def __init__(self, orch: Orchestrator, sink: ListSink) -> None:
        self.orch, self.sink, self.now = orch, sink, 1000.0

    async def feed(self, event: ev.TypedEvent) -> None:
        self.orch.cti.tracker.apply(event, self.now)
        await self.orch.on_event(event)

    def effects(self, kind: type) -> list[Any]:
        return [e for e in self.sink.events if e.kind == f"acd.{kind.kind}"]  # type: ignore[attr-defined]


def chan(event: type[ev.ChannelEvent], uid: str, name: str, **kw: str) -> Any:
    return event(Channel=name, Uniqueid=uid, Linkedid=kw.pop("Linkedid", uid), **kw)


@pytest.fixture
async def floor() -> AsyncIterator[Floor]:
    sink = ListSink()
    cti = CtiService(AmiSettings(port=1), sink)  # never started
    tasks = TaskSupervisor("test")
    model = load_acd(str(ROOT / "config" / "acd.example.yaml"))
    f: Floor
    orch = Orchestrator(model, cti, sink, HotlineConfig(), clock=lambda: f.now, tasks=tasks)
    f = Floor(orch, sink)
    for agent in ("ana", "ben"):
        orch.agent_action(agent, "login")
        orch.handle(DeviceChanged(agent, DeviceState.OK))
    yield f
    await tasks.close(timeout=1.0)


async def holding(f: Floor, *variables: tuple[str, str]) -> None:
    await f.feed(chan(ev.Newchannel, "1.1", CALLER, CallerIDNum="5551234", Context="cc-hotline"))
    for name, value in variables:
        await f.feed(chan(ev.VarSet, "1.1", CALLER, Variable=name, Value=value))
    await f.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-hold", Exten="s"))


async def test_holding_caller_is_queued_with_the_ivrs_choices(floor: Floor) -> None:
    await holding(
        floor,
        ("CC_QUEUE", "billing"),
        ("CC_SKILLS", "lang_es:3"),
        ("CC_PRIORITY", "2"),
        ("CC_QUEUED", "990.5"),  # entered cc-hold before a link drop
    )
    call = floor.orch.engine.calls["1.1"]
    assert (call.queue, call.extra_skills, call.enqueued_at) == (
        "billing",
        (("lang_es", 3),),
        990.5,
    )
    queued = floor.effects(Queued)[0]
    assert queued.data["enqueued_at"] == 990.5 and queued.data["queue"] == "billing"


async def test_a_seat_that_cannot_be_called_is_known_at_once_and_not_a_no_answer(
    floor: Floor,
) -> None:
    floor.orch.agent_action("ana", "ready")
    await holding(floor)
    offer = floor.effects(Offer)[0]
    assert offer.data["agent"] == "ana"
    # the Redirect took the caller to cc-deliver,<ana's endpoint>: the Dial begins
    await floor.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-deliver", Exten="1001"))
    # an unregistered seat: no DialBegin/DialEnd, only DIALSTATUS on the caller's channel
    await floor.feed(chan(ev.VarSet, "1.1", CALLER, Variable="DIALSTATUS", Value="CHANUNAVAIL"))
    ana = floor.orch.engine.agents["ana"]
    assert ana.state is AgentState.AVAILABLE and ana.reason is None
    assert ana.not_routable_because() == "softphone failed an offer: cooling off"
    assert [r.data["agent"] for r in floor.effects(Requeued)] == ["ana"]
    # a late DIALSTATUS of that settled attempt changes nothing more
    await floor.feed(chan(ev.VarSet, "1.1", CALLER, Variable="DIALSTATUS", Value="NOANSWER"))
    assert len(floor.effects(Requeued)) == 1 and ana.reason is None


async def test_an_offer_withdrawn_before_it_went_out_is_not_delivered(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[list[tuple[str, Any]]] = []

    async def send_actions(actions: list[tuple[str, Any]], **_: Any) -> list[AmiMessage]:
        sent.append(actions)
        return [AmiMessage((("Response", "Success"),)) for _ in actions]

    monkeypatch.setattr(floor.orch.cti, "send_actions", send_actions)
    floor.orch.agent_action("ana", "ready")
    await holding(floor)
    assert floor.effects(Offer)[0].data["agent"] == "ana"
    # before the delivery runs, ana turns out to be talking to a caller the takeover
    # found: the offer is withdrawn, and a Redirect would take the caller to a busy seat
    floor.orch.handle(CallAdopted("2.1", "general", "ana", "5550000", connected_at=999.0))
    assert floor.orch.engine.calls["1.1"].state is CallState.WAITING
    for _ in range(3):
        await asyncio.sleep(0)
    assert sent == []


async def test_nothing_of_a_call_is_kept_once_its_lines_closed_agent_first(floor: Floor) -> None:
    floor.orch.agent_action("ana", "ready")
    await holding(floor)
    await floor.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-deliver", Exten="1001"))
    agent_leg = "PJSIP/1001-0000000a"
    await floor.feed(chan(ev.Newchannel, "1.2", agent_leg, Linkedid="1.1", Context="cc-deliver"))
    dial = ev.DialBegin(
        Channel=CALLER, Uniqueid="1.1", Linkedid="1.1", DestChannel=agent_leg,
        DestUniqueid="1.2", DestLinkedid="1.1",
    )  # fmt: skip
    await floor.feed(dial)
    answer = ev.DialEnd(
        Channel=CALLER, Uniqueid="1.1", Linkedid="1.1", DestChannel=agent_leg,
        DestUniqueid="1.2", DestLinkedid="1.1", DialStatus="ANSWER",
    )  # fmt: skip
    await floor.feed(answer)
    assert floor.orch.engine.agents["ana"].state is AgentState.ON_CALL
    # the agent hangs up first (the engine lets go of the call), then the caller
    await floor.feed(chan(ev.Hangup, "1.2", agent_leg, Linkedid="1.1"))
    assert "1.1" not in floor.orch.engine.calls
    await floor.feed(chan(ev.Hangup, "1.1", CALLER))
    kept = (floor.orch._caller_channel, floor.orch._call_node, floor.orch._agent_leg)
    assert not any("1.1" in d for d in kept)  # a busy day would pile them up


async def test_back_in_hold_after_the_dial_began_is_a_failed_offer(floor: Floor) -> None:
    floor.orch.agent_action("ana", "ready")
    await holding(floor)
    await floor.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-deliver", Exten="1001"))
    # a status we did not see: the dialplan sends the caller back to cc-hold
    await floor.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-hold", Exten="s"))
    assert floor.orch.engine.calls["1.1"].state is CallState.WAITING
    assert floor.effects(Requeued)[0].data["agent"] == "ana"


async def test_an_answer_the_engine_did_not_expect_is_adopted(floor: Floor) -> None:
    await holding(floor, ("CC_QUEUE", "general"))  # nobody ready: the call waits
    await floor.feed(chan(ev.Newexten, "1.1", CALLER, Context="cc-deliver", Exten="1002"))
    answer = ev.DialEnd(
        Channel=CALLER, Uniqueid="1.1", Linkedid="1.1", DestChannel="PJSIP/1002-0000000a",
        DestUniqueid="1.2", DestLinkedid="1.1", DialStatus="ANSWER",
    )  # fmt: skip
    floor.orch.cti.tracker.apply(answer, floor.now)
    await floor.orch.on_event(answer)
    assert floor.orch.engine.agents["ben"].state is AgentState.ON_CALL
    assert floor.effects(Adopted)[0].data["agent"] == "ben"


async def test_a_late_dial_end_of_an_earlier_attempt_does_not_fail_the_new_offer(
    floor: Floor,
) -> None:
    floor.orch.agent_action("ana", "ready")
    floor.orch.agent_action("ben", "ready")
    await holding(floor)
    first = floor.effects(Offer)[0].data["agent"]
    floor.orch.handle(OfferFailed("1.1", first, OfferFailure.NO_ANSWER))  # ring timeout
    second = floor.effects(Offer)[1].data["agent"]
    assert second != first
    # the first phone's Dial ends only now: it speaks for the first agent, not the second
    leg = {"ana": "PJSIP/1001-00000002", "ben": "PJSIP/1002-00000002"}[first]
    late = ev.DialEnd(
        Channel=CALLER, Uniqueid="1.1", Linkedid="1.1", DestChannel=leg,
        DestUniqueid="1.2", DestLinkedid="1.1", DialStatus="NOANSWER",
    )  # fmt: skip
    floor.orch.cti.tracker.apply(late, floor.now)
    await floor.orch.on_event(late)
    call = floor.orch.engine.calls["1.1"]
    assert call.state is CallState.OFFERED and call.agent_id == second
    assert floor.orch.engine.agents[second].state is AgentState.OFFERED
