"""AstDB: what the hotline dialplan notes for ccserver, and the DB actions (main/db.c shapes)."""

from __future__ import annotations

from integration.sim.test_captures import Client
from integration.sim.test_seats import LOGIN, held, started
from support import until

from contracts import dialplan as dp


async def test_the_dialplan_notes_answers_and_ends_and_dbgettree_lists_them() -> None:
    sim = await started(agents=[{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 5}])
    try:
        client = await Client.connect(sim.port)
        client.send(LOGIN)
        await client.response("l")
        call = await held(sim, "5550001")
        sim.goto(sim.channels[call.channel], "cc-deliver", "1001")
        await until(lambda: call.record.answered_at is not None)
        # Dial's U() gosub ran on the agent's leg, in cc-record
        gosub = await client.until(
            lambda m: m.event == "Newexten" and m.get("Context") == dp.RECORD_CONTEXT
        )
        assert gosub["Channel"].startswith("PJSIP/1001-") and gosub["Application"] == "Set"
        await sim.hangup_channel(call.channel)
        await client.until(lambda m: m.event == "Hangup" and m.get("Channel") == call.channel)
        # the caller's hangup handler ran before its Hangup event
        names = [(m.event, m.get("Context"), m.get("Channel")) for m in client.messages]
        handler = names.index(("Newexten", dp.RECORD_CONTEXT, call.channel))
        assert names.index(("Hangup", "cc-deliver", call.channel)) > handler

        client.send("Action: DBGetTree\r\nActionID: t\r\nFamily: cc\r\n\r\n")
        reply = await client.response("t")
        assert (reply["Response"], reply["EventList"]) == ("Success", "start")
        assert reply["Message"] == "Result will follow"
        done = await client.until(lambda m: m.event == "DBGetTreeComplete")
        rows = [m for m in client.messages if m.event == "DBGetTreeResponse"]
        assert [k for k, _ in rows[0].headers] == ["Event", "Key", "Val", "ActionID"]
        keys = {m["Key"]: m["Val"] for m in rows}
        answered = keys[f"/cc/{call.linkedid}{dp.ASTDB_ANSWERED}"]
        at, _, channel = answered.partition("/")
        assert abs(float(at) - (call.record.answered_at or 0)) < 0.01  # as it answered
        assert channel.startswith("PJSIP/1001-")
        note = keys[f"/cc/{call.uniqueid}{dp.ASTDB_ENDED}"].split("/")
        ended_text, queued, entered, caller = note
        assert abs(float(ended_text) - (call.record.ended_at or 0)) < 0.01
        # and when the caller had first entered the queue (the dialplan's CC_QUEUED)
        assert abs(float(queued) - (call.record.entered_hold_at or 0)) < 0.01
        # when the line reached the hotline (CC_ENTERED) and from which number
        assert 0 <= float(entered) - call.record.arrived_at < 0.1  # just after the Answer
        assert caller == call.record.number
        # the agent's leg noted its own end (the hangup handler the answered gosub pushed)
        left = [v for k, v in keys.items() if k.endswith(dp.ASTDB_LEFT)]
        # (the caller's hang-up took the agent's leg down with it: the same moment, give
        # or take the simulator's scheduling)
        assert len(left) == 1 and abs(float(left[0]) - (call.record.ended_at or 0)) < 0.05
        assert (done["EventList"], done["ListItems"]) == ("Complete", str(len(rows)))

        # AstDB is a file: it outlives an Asterisk restart; DBDelTree empties the family
        await sim.restart()
        assert f"/cc/{call.uniqueid}{dp.ASTDB_ENDED}" in sim.astdb
        client = await Client.connect(sim.port)
        client.send(LOGIN)
        await client.response("l")
        client.send("Action: DBDelTree\r\nActionID: d\r\nFamily: cc\r\n\r\n")
        assert (await client.response("d"))["Message"] == "Key tree deleted successfully"
        client.send("Action: DBDelTree\r\nActionID: e\r\nFamily: cc\r\n\r\n")
        gone = await client.response("e")
        assert (gone["Response"], gone["Message"]) == ("Error", "Database entry not found")
        client.send("Action: DBGet\r\nActionID: g\r\nFamily: cc\r\nKey: nope\r\n\r\n")
        assert (await client.response("g"))["Message"] == "Database entry not found"
    finally:
        await sim.stop()
