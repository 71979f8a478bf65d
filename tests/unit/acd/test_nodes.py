"""Several Asterisk nodes: a call goes to a seat on its own node unless its queue is cross_node."""

from __future__ import annotations

from acd.effects import Offer
from acd.engine import Engine
from acd.events import (
    AgentLogin,
    AgentReady,
    CallArrived,
    DeviceChanged,
    NodeLinkChanged,
    Tick,
)
from acd.model import Agent, AgentState, DeviceState, QueueConfig


def floor(cross_node: bool = False) -> Engine:
    """ana's softphone on node A, ben's on node B; both ready."""
    queue = QueueConfig("q", (), cross_node=cross_node)
    eng = Engine([queue], [Agent("ana", "Ana", "1001", {}), Agent("ben", "Ben", "1002", {})])
    eng.handle(DeviceChanged("ana", DeviceState.OK, "A"), 0)
    eng.handle(DeviceChanged("ben", DeviceState.OK, "B"), 0)
    for agent in ("ana", "ben"):
        eng.handle(AgentLogin(agent), 0)
    return eng


def offered(effects: list[object]) -> list[tuple[str | None, str | None, str | None]]:
    return [(e.call_id, e.agent_id, e.node) for e in effects if isinstance(e, Offer)]


def test_a_call_waits_for_a_seat_on_its_own_node() -> None:
    eng = floor()
    assert offered(eng.handle(AgentReady("ben"), 1)) == []
    assert offered(eng.handle(CallArrived("A-1", "q", node="A"), 2)) == []  # ben is on B
    assert offered(eng.handle(AgentReady("ana"), 3)) == [("A-1", "ana", "A")]
    assert offered(eng.handle(CallArrived("B-1", "q", node="B"), 4)) == [("B-1", "ben", "B")]


def test_a_cross_node_queue_offers_a_seat_on_another_node() -> None:
    eng = floor(cross_node=True)
    eng.handle(AgentReady("ben"), 1)
    effects = eng.handle(CallArrived("A-1", "q", node="A"), 2)
    offer = next(e for e in effects if isinstance(e, Offer))
    assert (offer.agent_id, offer.node, offer.call_node) == ("ben", "B", "A")


def test_a_node_that_does_not_hold_the_seat_has_no_say_on_it() -> None:
    eng = floor()
    # node A says ben's endpoint is not registered there: ben is on B, nothing changes
    eng.handle(DeviceChanged("ben", DeviceState.UNREGISTERED, "A"), 1)
    assert eng.agents["ben"].device is DeviceState.OK and eng.agents["ben"].node == "B"
    # ben's softphone registers on A: the seat moves there
    eng.handle(DeviceChanged("ben", DeviceState.OK, "A"), 2)
    assert eng.agents["ben"].node == "A"
    eng.handle(AgentReady("ben"), 3)
    assert offered(eng.handle(CallArrived("A-1", "q", node="A"), 4)) == [("A-1", "ben", "A")]


def test_a_node_whose_link_is_down_keeps_its_callers_waiting_and_the_others_go_on() -> None:
    eng = floor(cross_node=True)
    eng.handle(NodeLinkChanged("B", up=False), 1)
    eng.handle(AgentReady("ana"), 2)
    # B's caller is not offered (the offer could not be delivered), A's is
    assert offered(eng.handle(CallArrived("B-1", "q", node="B"), 3)) == []
    eng.handle(AgentReady("ben"), 3)  # a seat free on B does not take it either
    assert eng.calls["B-1"].agent_id is None
    assert offered(eng.handle(NodeLinkChanged("B", up=True), 4)) in (
        [("B-1", "ana", "A")],
        [("B-1", "ben", "B")],
    )


def test_without_nodes_nothing_changes() -> None:
    eng = Engine([QueueConfig("q", ())], [Agent("ana", "Ana", "1001", {})])
    eng.handle(AgentLogin("ana"), 0)
    eng.handle(AgentReady("ana"), 0)
    assert offered(eng.handle(CallArrived("c", "q"), 1)) == [("c", "ana", None)]


def test_an_offer_on_a_node_whose_link_is_down_does_not_ring_out() -> None:
    eng = floor()
    eng.handle(AgentReady("ben"), 0)
    assert offered(eng.handle(CallArrived("B-1", "q", node="B"), 1)) == [("B-1", "ben", "B")]
    eng.handle(NodeLinkChanged("B", up=False), 2)
    eng.handle(Tick(), 60)  # long past the ring timeout: nobody heard the outcome
    assert eng.agents["ben"].state is AgentState.OFFERED and eng.agents["ben"].reason is None
    eng.handle(NodeLinkChanged("B", up=True), 61)
    eng.handle(Tick(), 62)  # heard again: the ring timeout applies
    assert eng.agents["ben"].state is not AgentState.OFFERED


def test_a_queue_callback_has_no_node_and_rings_the_customer_from_any_free_seat() -> None:
    eng = floor()
    eng.handle(AgentReady("ben"), 1)
    # a free seat at once: the offer itself carries the number to ring (no line to redirect)
    effects = eng.handle(CallArrived("cb-1", "q", "5550001", callback="5550001"), 2)
    offer = next(e for e in effects if isinstance(e, Offer))
    assert (offer.agent_id, offer.node, offer.callback) == ("ben", "B", "5550001")
    assert [type(e).__name__ for e in effects][:2] == ["Queued", "CallbackQueued"]
