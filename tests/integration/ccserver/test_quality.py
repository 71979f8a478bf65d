"""Call recording and quality scoring over real TCP: simulator -> AMI MixMonitor -> event
log -> the quality API (list, audio, score) -> the agents report.

The ACD has ``general`` recorded and ``billing`` not; the simulator writes its
recordings (WAV) where ccserver's ``recordings.dir`` reads them, as a shared
monitor directory would.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support import until

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import eventlog as el
from contracts.sink import ListSink

REPO = Path(__file__).resolve().parents[3]
TOKEN = "quality-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Center:
    sim: AsteriskSimulator
    server: Server
    seen: ListSink
    recordings: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, json=body, headers=headers or ADMIN) as resp,
        ):
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def login(self, name: str, role: str, **extra: Any) -> dict[str, str]:
        password = f"{name}-password"
        user = {"name": name, "password": password, "role": role, **extra}
        status, out = await self.call("POST", "/api/users", user)
        assert status == 201, out
        status, out = await self.call(
            "POST", "/api/login", {"name": name, "password": password, "bearer": True}, {}
        )
        assert status == 200, out
        return {"Authorization": f"Bearer {out['token']}"}

    def recording_events(self, call_id: str) -> list[dict[str, Any]]:
        return [
            dict(e.data)
            for e in self.seen.events
            if e.call_id == call_id and e.kind == el.CALL_RECORDING
        ]


def acd_config(tmp_path: Path) -> Path:
    """The example ACD with ``general`` recorded (``billing`` is not)."""
    data = yaml.safe_load((REPO / "config" / "acd.example.yaml").read_text())
    for queue in data["queues"]:
        if queue["name"] == "general":
            queue["record"] = True
    path = tmp_path / "acd.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def new_sim(tmp_path: Path, talk_mean_s: float = 30) -> AsteriskSimulator:
    scenario = parse_scenario(
        {"agents": [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": talk_mean_s}]}
    )
    sim = AsteriskSimulator(scenario, time_scale=0.01)
    sim.monitor_dir = tmp_path / "monitor"  # Asterisk's monitor directory, shared with ccserver
    return sim


async def start_server(
    sim: AsteriskSimulator, tmp_path: Path, seen: ListSink, **recordings: str
) -> Server:
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02, "backoff_max_s": 0.1},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": [TOKEN]},
        store={
            "url": f"sqlite+aiosqlite:///{tmp_path}/quality.db",
            "flush_interval_s": 0.05,
            "spool_dir": str(tmp_path / "spool"),
        },
        acd={"config": str(acd_config(tmp_path)), "tick_s": 0.02},
        recordings={"dir": str(tmp_path / "monitor"), **recordings},
    )
    server = Server(settings, extra_sinks=(seen,))
    await server.start()
    await server.cti.client.wait_connected(5)
    return server


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    sim = new_sim(tmp_path)
    await sim.start()
    seen = ListSink()
    server = await start_server(sim, tmp_path, seen)
    assert server.orchestrator is not None
    server.orchestrator.agent_action("ana", "login")
    server.orchestrator.agent_action("ana", "ready")
    try:
        yield Center(sim, server, seen, tmp_path / "monitor")
    finally:
        await server.stop()
        await sim.stop()


async def test_recorded_queue_is_recorded_listed_played_and_scored(center: Center) -> None:
    sim, orch = center.sim, center.server.orchestrator
    assert orch is not None

    # a call in the recorded queue: MixMonitor on the caller's channel when it connects
    recorded = await sim.place_call("5550100001", patience=1000, variables={"CC_QUEUE": "general"})
    await until(lambda: bool(center.recording_events(recorded.linkedid)), 10)
    event = center.recording_events(recorded.linkedid)[0]
    assert event["file"].endswith(f"/{recorded.linkedid}.wav")
    assert (event["queue"], event["agent"], event["adopted"]) == ("general", "ana", False)
    mon = sim.recorded[0]
    assert mon.channel.name == recorded.channel  # the caller's channel, not the agent's leg
    assert mon.path == f"/var/spool/asterisk/monitor/{event['file']}"
    assert mon.channel.variables["MIXMONITOR_FILENAME"] == mon.path
    await recorded.done.wait()
    assert orch.recordings_started == 1 and orch.recordings_failed == 0

    # a call in an unrecorded queue: none
    await until(lambda: orch.engine.agents["ana"].state.value == "wrap_up", 10)
    orch.agent_action("ana", "end_wrap_up")
    plain = await sim.place_call("5550100002", patience=1000, variables={"CC_QUEUE": "billing"})
    await until(lambda: orch.engine.calls.get(plain.linkedid) is not None, 10)
    await plain.done.wait()
    assert center.recording_events(plain.linkedid) == []
    assert len(sim.recorded) == 1

    # the call record has the file (the reports' fold)
    start, end = time.time() - 3600, time.time() + 3600  # ccserver's clock, not the simulator's
    rows: dict[str, Any] = {}
    async with asyncio.timeout(10):  # until the writer has stored both calls' ends
        while not all(rows.get(c.linkedid, {}).get("ended_at") for c in (recorded, plain)):
            status, report = await center.call("GET", f"/api/reports/calls?from={start}&to={end}")
            assert status == 200, report
            rows = {r["call_id"]: r for r in report["rows"]}
            await asyncio.sleep(0.05)
    assert rows[recorded.linkedid]["recording"] == event["file"]
    assert rows[plain.linkedid]["recording"] is None

    # a quality user lists it, downloads a valid WAV, scores it on the scorecard
    quinn = await center.login("quinn", "quality")
    status, listed = await center.call("GET", f"/api/recordings?from={start}&to={end}", None, quinn)
    assert status == 200, listed
    assert [r["call_id"] for r in listed["recordings"]] == [recorded.linkedid]
    item = listed["recordings"][0]
    assert (item["agent"], item["queue"], item["score"]) == ("ana", "general", None)
    status, audio = await center.call(
        "GET", f"/api/recordings/{recorded.linkedid}/audio", None, quinn
    )
    assert status == 200
    with wave.open(io.BytesIO(audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.getnframes() > 0  # the conversation's length, in silence
    status, card = await center.call("GET", "/api/scorecard", None, quinn)
    assert status == 200
    ids = [c["id"] for c in card["criteria"]]
    full = {c["id"]: c["max_points"] for c in card["criteria"]}
    # points outside a criterion's range, a missing or unknown criterion: refused
    for bad in ({**full, ids[0]: full[ids[0]] + 1}, {ids[0]: 1}, {**full, "nope": 1}):
        status, out = await center.call(
            "POST", f"/api/recordings/{recorded.linkedid}/score", {"points": bad}, quinn
        )
        assert status == 400, out
    half = {**full, "resolution": 0}  # resolution weighs 3 of 8
    status, scored = await center.call(
        "POST",
        f"/api/recordings/{recorded.linkedid}/score",
        {"points": half, "comment": "did not solve it"},
        quinn,
    )
    assert status == 201, scored
    assert scored["score"] == 62.5 and scored["agent"] == "ana" and scored["scored_by"] == "quinn"
    status, listed = await center.call("GET", f"/api/recordings?agent=ana&from={start}&to={end}",
                                       None, quinn)  # fmt: skip
    assert listed["recordings"][0]["score"] == 62.5
    status, scores = await center.call("GET", f"/api/scores?call_id={recorded.linkedid}",
                                       None, quinn)  # fmt: skip
    assert status == 200 and scores["scores"][0]["comment"] == "did not solve it"

    # the agents report shows ana's quality score
    status, agents = await center.call("GET", f"/api/reports/agents?from={start}&to={end}")
    assert status == 200, agents
    ana = next(r for r in agents["rows"] if r["agent"] == "ana")
    assert (ana["quality_pct"], ana["quality_scores"]) == (62.5, 1)

    # an agent may not hear recordings; nor score; traversal and unknown calls are 404
    agent = await center.login("ana", "agent", agent_id="ana")
    for method, path in (
        ("GET", "/api/recordings"),
        ("GET", f"/api/recordings/{recorded.linkedid}/audio"),
    ):
        status, _ = await center.call(method, path, None, agent)
        assert status == 403, path
    sue = await center.login("sue", "supervisor", teams=["billing"])
    status, _ = await center.call(
        "POST", f"/api/recordings/{recorded.linkedid}/score", {"points": full}, sue
    )
    assert status == 403  # supervisors listen; quality scores
    status, _ = await center.call("GET", f"/api/recordings/{recorded.linkedid}/audio", None, sue)
    assert status == 403  # not her team's queue
    (center.recordings / "secret.txt").write_text("not a recording")
    for path in (
        "/api/recordings/..%2F..%2Fetc%2Fpasswd/audio",
        "/api/recordings/%2E%2E/audio",
        "/api/recordings/..%2Fsecret.txt/audio",
        f"/api/recordings/{plain.linkedid}/audio",  # no recording: not a file to serve
        "/api/recordings/secret.txt/audio",
    ):
        status, _ = await center.call("GET", path, None, quinn)
        assert status == 404, path
    async with aiohttp.ClientSession() as http:  # a raw path the client does not normalise
        url = f"{center.base}/api/recordings/../../../etc/passwd/audio"
        async with http.get(yarl_raw(url), headers=quinn) as resp:
            assert resp.status == 404


def yarl_raw(url: str) -> Any:
    from yarl import URL

    return URL(url, encoded=True)


async def test_a_refused_mixmonitor_leaves_the_call_unrecorded(center: Center) -> None:
    orch = center.server.orchestrator
    assert orch is not None
    # Asterisk cannot write (the simulator's monitor directory is a file): Error answer
    blocker = center.recordings.parent / "not-a-dir"
    blocker.write_text("")
    center.sim.monitor_dir = blocker
    call = await center.sim.place_call(
        "5550100003", patience=1000, variables={"CC_QUEUE": "general"}
    )
    await until(lambda: orch.recordings_failed == 1, 10)
    assert center.recording_events(call.linkedid) == []
    # counted where operators look
    status, text = await center.call("GET", "/metrics")
    assert status == 200
    assert b"ccserver_recordings_failed_total 1.0" in text
    assert b"ccserver_recordings_started_total 0.0" in text
    # the conversation goes on and ends as usual
    await call.done.wait()
    assert call.record.outcome == "answered"


async def test_a_call_adopted_after_a_start_is_recorded_once(tmp_path: Path) -> None:
    """A call answered while ccserver was away is recorded from its adoption on; after a
    restart, a call already recorded is not recorded again (MIXMONITOR_FILENAME says so)."""
    sim = new_sim(tmp_path, talk_mean_s=1e6)  # talks on while ccserver comes and goes
    await sim.start()
    try:
        # answered while no ccserver listened: delivered as ccserver's Redirect would
        call = await sim.place_call("5550100004", patience=1000, variables={"CC_QUEUE": "general"})
        await until(lambda: sim.channels[call.channel].context == "cc-hold")
        sim.goto(sim.channels[call.channel], "cc-deliver", "1001")
        await until(lambda: call.record.answered_at is not None)
        seen = ListSink()
        server = await start_server(sim, tmp_path, seen)
        center = Center(sim, server, seen, tmp_path / "monitor")
        try:
            await until(lambda: bool(center.recording_events(call.linkedid)), 10)
            (first,) = center.recording_events(call.linkedid)
            assert first["adopted"] is True and first["file"].endswith(f"{call.linkedid}.wav")
            assert [m.channel.name for m in sim.recorded] == [call.channel]
        finally:
            await server.stop()
        # ccserver restarts while the call goes on: it finds the recording running
        seen = ListSink()
        server = await start_server(sim, tmp_path, seen)
        center = Center(sim, server, seen, tmp_path / "monitor")
        try:
            await until(lambda: bool(center.recording_events(call.linkedid)), 10)
            (again,) = center.recording_events(call.linkedid)
            assert again["file"] == first["file"] and again["adopted"] is True
            assert len(sim.recorded) == 1  # no second MixMonitor
            assert server.orchestrator is not None
            assert server.orchestrator.recordings_started == 0
        finally:
            await server.stop()
    finally:
        await sim.stop()


async def test_asterisk_dir_names_where_asterisk_writes(tmp_path: Path) -> None:
    """recordings.asterisk_dir: the File is that absolute path (Asterisk writes there, not in
    its monitor directory); ccserver reads the same storage as recordings.dir."""
    sim = new_sim(tmp_path)
    sim.monitor_dir = None  # the monitor directory is not where these go
    await sim.start()
    shared = tmp_path / "shared"
    seen = ListSink()
    server = await start_server(sim, tmp_path, seen, dir=str(shared), asterisk_dir=str(shared))
    center = Center(sim, server, seen, shared)
    try:
        assert server.orchestrator is not None
        server.orchestrator.agent_action("ana", "login")
        server.orchestrator.agent_action("ana", "ready")
        call = await sim.place_call("5550100005", patience=1000, variables={"CC_QUEUE": "general"})
        await until(lambda: bool(center.recording_events(call.linkedid)), 10)
        (event,) = center.recording_events(call.linkedid)
        assert sim.recorded[0].path == f"{shared}/{event['file']}"
        await call.done.wait()
        assert (shared / event["file"]).is_file()
        status, audio = await center.call("GET", f"/api/recordings/{call.linkedid}/audio")
        assert status == 200 and audio[:4] == b"RIFF"
    finally:
        await server.stop()
        await sim.stop()
