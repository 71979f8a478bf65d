"""After a restart and after every resync: the floor taken back, the engine corrected.

At start the agents' states come back from the store (``routing.restore``);
after every resync (each AMI login, and periodically) the engine is reconciled
with Asterisk's channels, device states and the dialplan's AstDB notes
(``routing.reconcile``), each correction logged; at the first resync after a
start the calls that ended while no ccserver was listening are closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError

from acd.events import (
    AgentRestored,
    CallAbandoned,
    CallAdopted,
    CallEnded,
    NodeLinkChanged,
)
from acd.model import AgentState, DeviceState
from contracts import dialplan as dp
from contracts import eventlog as el
from cti.service import CtiService, Resynced
from cti.tracker import CallTracker

from . import reconcile
from .restore import Floor, OpenCall, noted_queued, orphan_endings, unseen_lines
from .translate import Translation

log = logging.getLogger("ccserver.orchestrator")
# a restored agent who was ringing or talking: the resync tells whether the
# conversation goes on (adopted) or ended meanwhile (wrap-up, as after any call)
RESTORED_AS = {AgentState.OFFERED: AgentState.AVAILABLE, AgentState.ON_CALL: AgentState.WRAP_UP}


class Resync(Translation):
    """Restores the floor and keeps the engine in step with Asterisk."""

    def restore(self, floor: Floor) -> None:
        """Take back the floor the store kept: agent states now, open calls at the first resync."""
        self._floor = floor
        now = self.clock()
        for agent_id, stored in floor.agents.items():
            agent = self.engine.agents.get(agent_id)
            if agent is None:
                continue  # no longer configured
            try:
                state = AgentState(stored.state)
            except ValueError:
                log.warning("agent %s: stored state %r unknown; left logged out", agent_id, stored)
                continue
            until = stored.until
            if state in RESTORED_AS:
                state = RESTORED_AS[state]
                wraps = [self.engine.queues[q].wrap_up_s for q in self.engine.servable(agent_id)]
                until = now + max(wraps, default=0.0)
            self.handle(AgentRestored(agent_id, state, stored.reason, until))

    @property
    def restored_agents(self) -> frozenset[str]:
        """Agents whose state came from the store at start."""
        return frozenset(a for a in self._floor.agents if a in self.engine.agents)

    async def on_resync(self, found: Resynced) -> None:
        """Make the engine agree with Asterisk after a resync (a watchdog as well)."""
        node, here = self._node, self._here
        self._synced_session[node] = here.client.sessions
        self._link_down.discard(node)
        for call in here.tracker.active_calls():  # trunk legs of other nodes' calls
            remote_of = call.variables.get(dp.CC_REMOTE_OF)
            if remote_of:
                self._remote_leg(call.call_id, remote_of)
        for agent in list(self.engine.agents.values()):
            state = reconcile.device_state(agent.endpoint, found.devices, found.contacts)
            if state is None and agent.device is DeviceState.UNKNOWN:
                state = DeviceState.OK  # Asterisk cannot tell (no permission?): offers will
            if state is not None:
                self._on_device(f"PJSIP/{agent.endpoint}", state)
        floor = self._floor_view(self._logged_answers(here.tracker) | dict(found.notes.answered))
        arrivals = {}
        for call_id, ch in reconcile.holding_callers(floor, self.engine.calls).items():
            # a caller who hung up while the resync ran has their ended note read by it
            # (and deleted after): its CC_QUEUED is their wait start
            arrival = self._arrival(call_id, ch.caller_num, found.notes.queued.get(call_id))
            self._caller_channel[call_id] = ch.name
            self._call_node[call_id] = node
            order = arrival.enqueued_at if arrival.enqueued_at is not None else ch.created_at
            arrivals[call_id] = reconcile.Arrival(arrival, order)
            if arrival.enqueued_at is None:
                self._wait_unknown[call_id] = (node, arrival.queue)
        queue_of = {}
        for call in here.tracker.active_calls():
            queue = self._queue_of(call.call_id)
            if queue is not None and not call.variables.get(dp.CC_REMOTE_OF):
                queue_of[call.call_id] = queue
        # several nodes: this node's calls only (the others' lines are not in its picture)
        mine = {c for c in self.engine.calls if self.node_of(c) == node} if self.multi else None
        for fix in reconcile.corrections(self.engine, floor, arrivals, queue_of, only=mine):
            self.corrections += 1
            log.warning("reconciled with Asterisk: %s: %s", type(fix.event).__name__, fix.why)
            event = fix.event
            if isinstance(event, CallAdopted) and event.node is None and self.multi:
                event = replace(event, node=node)  # a conversation found on this node
            self.handle(event)
            if (
                isinstance(event, (CallAbandoned, CallEnded))
                and event.call_id not in self.engine.calls
            ):
                self._forget(event.call_id)
        self._queued_unseen(found, here.tracker)
        if node in self._first_resync:
            self._first_resync.discard(node)
            self._close_orphans(found)
            await self._settle_noted(found)
        if self.multi:
            self.handle(NodeLinkChanged(node, up=True))  # its callers may be offered again

    def _queued_unseen(self, found: Resynced, tracker: CallTracker) -> None:
        """Callers followed into the IVR who reached the queue and hung up during a link
        drop: the engine never queued them, their line's note (``CC_QUEUED``) says they
        waited, so the record says abandoned in the queue, with Asterisk's wait."""
        for uid, queued_at in found.notes.queued.items():
            call = tracker.call(uid)
            caller = call.channels.get(uid) if call is not None else None
            if call is None or caller is None or caller.ended_at is None:
                continue  # unknown here (the restart's orphans), or still on the line
            if uid in self.engine.calls or caller.context != dp.HOTLINE_CONTEXT:
                continue  # seen past the IVR: the engine queued it and settled it
            queue = call.variables.get(dp.CC_QUEUE) or self.default_queue or ""
            log.warning("call %s reached queue %s unseen and ended: noted by Asterisk", uid, queue)
            self.sink.emit(noted_queued(self._ids(), uid, queued_at, queue))

    def settle_unknown_wait(self, call_id: str, abandoned: bool) -> None:
        """A caller queued at a resync without their wait start has left the queue: if they
        hung up, the line's ended note (read now) has when they entered it (``CC_QUEUED``),
        and an ``acd.queued`` at that moment puts the whole wait on the record."""
        found = self._wait_unknown.pop(call_id, None)
        if found is None or not abandoned:
            return
        node, queue = found
        service = self.nodes.get(node)
        if service is not None:
            self._tasks.spawn(self._noted_wait(service, call_id, queue), name="acd.noted_wait")

    async def _noted_wait(self, service: CtiService, call_id: str, queue: str) -> None:
        notes = await service.ended_note(call_id)
        queued = notes.queued.get(call_id)
        if queued is not None:
            log.info("call %s: its wait began at %.3f (noted by Asterisk)", call_id, queued)
            self.sink.emit(noted_queued(self._ids(), call_id, queued, queue))

    def _logged_answers(self, tracker: CallTracker) -> dict[str, tuple[float, str]]:
        """Conversations the event log saw begin, by call: (answer time, the agent's live leg).

        A conversation adopted after a restart or takeover keeps the answer time
        the log has (a live event's); the resync's own picture only knows the leg's
        age in whole seconds, and Asterisk's note of it was read by the old process.
        """
        answers: dict[str, tuple[float, str]] = {}
        for opened in self._floor.open_calls.values():
            agent = self.engine.agents.get(opened.agent or "")
            if opened.answered_at is None or agent is None:
                continue
            call = tracker.call(opened.call_id)
            leg = call.endpoint_leg(agent.endpoint) if call is not None else None
            if leg is not None:
                answers[opened.call_id] = (opened.answered_at, leg.name)
        return answers

    def _close_orphans(self, found: Resynced) -> None:
        """Calls the log had open that Asterisk no longer has: they ended while we were down.

        Asterisk's notes (AstDB) give when each ended and, if an agent answered,
        who and when; the conversation then goes on the record as adopted.
        """
        node, tracker = self._node, self._here.tracker
        gone = [
            c
            for c in self._floor.open_calls.values()
            if c.call_id not in tracker.calls
            and (not self.multi or self.node_of(c.call_id) == node)
        ]
        self._close_gone(gone, found)
        if gone:
            log.warning("%d calls ended while ccserver was down; closed now", len(gone))

    def _close_gone(self, gone: list[OpenCall], found: Resynced) -> None:
        """Close open calls of the log that Asterisk no longer has, at its noted times."""
        node, now = self._node, self.clock()
        for call in gone:
            noted = found.notes.answered.get(call.call_id)
            agent_id = reconcile.agent_of(self.engine, noted[1]) if noted else None
            queue = call.queue if call.queue in self.engine.queues else self.default_queue
            if noted is not None and agent_id is not None and call.call_id not in self.engine.calls:
                self.handle(
                    CallAdopted(call.call_id, queue, agent_id, "", noted[0], self.acd_node(node))
                )
                self.handle(CallEnded(call.call_id))
        endings = orphan_endings(
            gone, found.notes.ended, now, self._ids, found.notes.queued, self.default_queue or ""
        )
        for record in endings:
            self.sink.emit(record)

    async def _settle_noted(self, found: Resynced) -> None:
        """The lines Asterisk noted ended that this process never followed, as the log has
        them now: open there (the process before wrote them after this one read the
        floor: its spool, after a database outage), they are closed at Asterisk's times;
        absent (they began and ended while no ccserver listened), they go on the record
        (``restore.unseen_lines``)."""
        tracker, floor = self._here.tracker, self._floor
        fresh = [
            uid
            for uid in found.notes.ended
            if tracker.call(uid) is None and uid not in floor.open_calls
        ]
        if not fresh or floor.logged is None:
            return
        try:
            logged = await floor.logged(fresh)
        except (SQLAlchemyError, OSError) as exc:  # the store went away meanwhile
            log.error(
                "could not read which of %d noted lines the event log has (%s): the lines "
                "that ended while ccserver was down or taking over are not recorded",
                len(fresh), exc,
            )  # fmt: skip
            return
        late = [c for uid, c in logged.open_calls.items() if tracker.call(uid) is None]
        self._close_gone(late, found)
        if late:
            log.warning(
                "%d calls the log got after the floor was read ended meanwhile; closed now",
                len(late),
            )

        def known(uid: str) -> bool:
            return uid in logged.known or tracker.call(uid) is not None

        unseen = unseen_lines(found.notes, known, floor.since, self._ids, self.default_queue or "")
        for record in unseen:
            self.sink.emit(record)
        if unseen:
            count = sum(e.kind == el.CALL_STARTED for e in unseen)
            log.warning("%d lines began and ended while ccserver was down; recorded now", count)

    def _floor_view(
        self, answered: Mapping[str, tuple[float, str]] | None = None
    ) -> reconcile.Floor:
        channels = list(self._here.tracker.channels.values())
        for node, service in self.nodes.items():
            if node != self._node:  # this node's calls' legs on other nodes (cross-node seats)
                channels += [
                    ch
                    for ch in service.tracker.channels.values()
                    if ch.linkedid in self._alias
                    and self.node_of(self._alias[ch.linkedid]) == self._node
                ]
        return reconcile.Floor(
            answered=answered or {},
            channels=channels,
            caller_channel=self._caller_channel,
            alias=self._alias,
            dialing=self._dialing,
            hold_context=self.hotline.hold_context,
            deliver_context=self.hotline.deliver_context,
        )

    async def refresh_devices(self) -> None:
        """Ask Asterisk for every softphone's state now (an agent logged in)."""
        for node, service in list(self.nodes.items()):
            if not service.connected:
                continue
            devices, contacts = await service.device_truth()
            self._node = node  # no await from here on: the node stays this one
            for agent in list(self.engine.agents.values()):
                state = reconcile.device_state(agent.endpoint, devices, contacts)
                if state is not None:
                    self._on_device(f"PJSIP/{agent.endpoint}", state)
