"""The whole server over real TCP: simulator -> AMI -> tracker -> store, HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator
from ccserver.store import EventWriter, call_events
from contracts.sink import ListSink

TOKEN = "test-token-123"


async def start_server(sim: AsteriskSimulator, url: str, *sinks: ListSink) -> Server:
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02, "backoff_max_s": 0.1},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": [TOKEN], "max_body_bytes": 2048},
        store={"url": url, "flush_interval_s": 0.05},
    )
    server = Server(settings, extra_sinks=sinks)
    await server.start()
    await server.cti.client.wait_connected(5)
    return server


@pytest.fixture
async def server(sim: AsteriskSimulator, tmp_path: Path) -> AsyncIterator[Server]:
    srv = await start_server(sim, f"sqlite+aiosqlite:///{tmp_path}/events.db")
    yield srv
    await srv.stop()


async def test_health_metrics_and_api(sim: AsteriskSimulator, server: Server) -> None:
    base = f"http://127.0.0.1:{server.http_port}"
    call = await sim.place_call("5551234", patience=1000)
    auth = {"Authorization": f"Bearer {TOKEN}"}  # the detail of /healthz needs a supervisor
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(5):
            while True:
                async with http.get(f"{base}/healthz", headers=auth) as resp:
                    health = await resp.json()
                if health["cti"]["active_calls"] == 1:
                    break
                await asyncio.sleep(0.02)
        assert resp.status == 200 and health["status"] == "ok"
        async with http.get(f"{base}/healthz") as resp:  # without credentials: the status only
            assert resp.status == 200 and await resp.json() == {"status": "ok"}

        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["ccserver_ami_up"].samples[0].value == 1
        assert families["ccserver_calls_active"].samples[0].value == 1
        labels = {s.labels.get("event") for s in families["ccserver_ami_events"].samples}
        assert "Newchannel" in labels and "other" in labels

        async with http.head(f"{base}/healthz") as resp:
            assert resp.status == 200  # probes that only look at the status
        async with http.get(f"{base}/api/calls") as resp:
            assert resp.status == 401 and (await resp.json())["error"]
        async with http.get(f"{base}/api/calls", headers={"Authorization": "Bearer nope"}) as resp:
            assert resp.status == 401
        async with http.get(f"{base}/api/calls", headers=auth) as resp:
            calls = (await resp.json())["calls"]
        assert [c["call_id"] for c in calls] == [call.linkedid]
        assert calls[0]["caller"] == "5551234"
        async with http.get(f"{base}/api/calls/nope", headers=auth) as resp:
            assert resp.status == 404
        # a body over http.max_body_bytes (2048) on a route that takes one
        big = b'{"resolution": "' + b"x" * 10_000 + b'"}'
        async with http.post(f"{base}/api/tickets/1/close", headers=auth, data=big) as resp:
            assert resp.status == 413 and "2048" in (await resp.json())["error"]
        async with http.post(f"{base}/api/calls", headers=auth, data=b"{}") as resp:
            assert resp.status == 405 and resp.headers["Allow"] == "GET,HEAD"
            assert (await resp.json())["error"] == "Method Not Allowed"
        async with http.get(f"{base}/nowhere") as resp:
            assert resp.status == 404 and (await resp.json())["error"]

        sim.set_silent(True)
        server.cti.client.drop()
        async with asyncio.timeout(5):
            while True:
                async with http.get(f"{base}/healthz", headers=auth) as resp:
                    status, body = resp.status, await resp.json()
                if status == 503:
                    break
                await asyncio.sleep(0.02)
        assert body["status"] == "degraded" and body["cti"]["ami"]["connected"] is False
        sim.set_silent(False)


async def count_events(url: str) -> tuple[int, int]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(call_events))).scalar_one()
        ids = (await conn.execute(select(func.count(func.distinct(call_events.c.id))))).scalar_one()
    await engine.dispose()
    return int(total), int(ids)


@pytest.mark.postgres
async def test_call_events_land_in_postgres_exactly_once(
    sim: AsteriskSimulator, pg_url: str
) -> None:
    seen = ListSink()
    server = await start_server(sim, pg_url, seen)
    try:
        calls = [await sim.place_call(f"55510{i}", patience=0.5) for i in range(5)]
        for call in calls:
            await asyncio.wait_for(call.done.wait(), 5)
        async with asyncio.timeout(5):
            while server.cti.tracker.summary().active_calls:
                await asyncio.sleep(0.02)
    finally:
        await server.stop()
    total, distinct = await count_events(pg_url)
    assert total == distinct == len(seen.events) > 5 * 5
    # replaying the same events (as after a crash) stores nothing twice
    replay = EventWriter(pg_url)
    await replay.start()
    for event in seen.events:
        replay.emit(event)
    await replay.stop()
    assert await count_events(pg_url) == (total, distinct)


async def raw_get(port: int, path: str, authorization: bytes | None) -> tuple[int, bytes]:
    """A GET with an Authorization header of any bytes (clients refuse to send non-UTF-8)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    writer.write(head + b"\r\n")
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        b"",
        b"Bearer",
        b"Bearer ",
        b"Basic dGVzdC10b2tlbi0xMjM=",
        b"Bearer \xff\xfe" + TOKEN.encode(),
        b"Bearer " + TOKEN.encode() + b"\xc3",
        b"bearer " + TOKEN.encode()[:-1],
    ],
)
async def test_a_bad_authorization_header_is_a_401_in_json(
    server: Server, authorization: bytes | None
) -> None:
    status, body = await raw_get(server.http_port, "/api/calls", authorization)
    assert status == 401 and json.loads(body) == {"error": "missing or invalid bearer token"}


async def test_the_token_is_accepted_in_any_case_of_bearer(server: Server) -> None:
    status, body = await raw_get(server.http_port, "/api/calls", b"bearer " + TOKEN.encode())
    assert status == 200 and json.loads(body) == {"calls": []}
