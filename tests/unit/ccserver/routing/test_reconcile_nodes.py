"""Reconciling after one node's resync (several nodes): only that node's calls are judged."""

from __future__ import annotations

from acd.engine import Engine
from acd.events import AgentLogin, AgentReady, CallAbandoned, CallArrived, OfferAnswered
from acd.model import Agent, QueueConfig
from ccserver.routing.reconcile import Floor, corrections
from cti.tracker import Channel


def test_a_resync_of_one_node_leaves_the_other_nodes_calls_alone() -> None:
    eng = Engine([QueueConfig("q", ())], [Agent("a", "a", "1001", {})])
    eng.handle(CallArrived("A-1", "q", node="A"), 1)
    eng.handle(CallArrived("B-1", "q", node="B"), 1)
    # node A's picture: neither caller's line is in it (B-1's is on node B)
    floor = Floor(
        channels=(),
        caller_channel={"A-1": "PJSIP/trunk-1", "B-1": "PJSIP/trunk-1"},
        alias={},
        dialing={},
        hold_context="cc-hold",
        deliver_context="cc-deliver",
    )
    fixes = corrections(eng, floor, {}, {}, only={"A-1"})
    assert [f.event for f in fixes] == [CallAbandoned("A-1")]
    # without ``only`` (one node) every call is judged, as before
    assert len(corrections(eng, floor, {}, {})) == 2


def test_a_seat_on_another_node_keeps_its_cross_node_conversation() -> None:
    eng = Engine([QueueConfig("q", (), cross_node=True)], [Agent("a", "a", "1003", {})])
    eng.handle(AgentLogin("a"), 0)
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("A-1", "q", node="A"), 1)
    eng.handle(OfferAnswered("A-1", "a"), 2)
    # A's caller, bridged with the trunk leg; the seat's leg is B's, on B's trunk line
    caller = Channel("A-1", "PJSIP/trunk-1", "A-1", 0.0, context="cc-deliver-remote")
    trunk_leg = Channel("A-2", "PJSIP/node_b-2", "A-1", 0.0, bridge_id="x")
    b_line = Channel("B-7", "PJSIP/node_a-1", "B-7", 0.0, context="cc-remote-in")
    seat_leg = Channel("B-8", "PJSIP/1003-3", "B-7", 0.0, bridge_id="y")
    floor = Floor(
        channels=(caller, trunk_leg, b_line, seat_leg),
        caller_channel={"A-1": caller.name},
        alias={"B-7": "A-1"},  # B's trunk line serves A-1 (CC_REMOTE_OF)
        dialing={},
        hold_context="cc-hold",
        deliver_context="cc-deliver",
    )
    assert corrections(eng, floor, {}, {}, only={"A-1"}) == []
    # the seat's leg gone on B: the conversation ended
    floor_gone = Floor(
        channels=(caller, trunk_leg),
        caller_channel={"A-1": caller.name},
        alias={"B-7": "A-1"},
        dialing={},
        hold_context="cc-hold",
        deliver_context="cc-deliver",
    )
    fixes = corrections(eng, floor_gone, {}, {}, only={"A-1"})
    assert [type(f.event).__name__ for f in fixes] == ["CallEnded"]
