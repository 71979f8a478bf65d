"""The HTTP side under abuse: hostile inputs answered 4xx in JSON, slow clients cut off and capped.

Uses the hotline fixture (simulator, ccserver with ACD and IVR) so the IVR can
be shown to keep serving while the HTTP port is under a slowloris attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from ccserver.app import Server
from ccserver.config import ConfigError, load_config

TOKEN = "ivr-test-token"  # the hotline fixture's (tests/integration/conftest.py)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def raw(hotline, method: str, path: str, **kw) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, hotline.base + path, **kw) as resp,
    ):
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/reports/queues?from=nan&to=1700000000", 400),
        ("/api/reports/queues?from=0&to=inf", 400),
        ("/api/reports/queues?from=0001-01-01&to=0001-01-02", 400),
        ("/api/reports/queues?from=9999-12-31T23:00&to=9999-12-31T23:59", 400),
        ("/api/reports/calls?from=-1e300&to=1e300", 400),
        ("/api/tickets/%C2%B2", 404),  # ² passes str.isdigit
        ("/api/tickets/99999999999999999999999", 404),
        ("/api/tickets/100001", 404),
        ("/api/outages/18446744073709551617/resolve", 404),
        ("/api/staffing/plan?date=2026-11-20&queue=nosuch", 404),
        ("/api/staffing/plan?date=0001-01-01", 400),
        ("/api/staffing?calls=inf&aht=180", 400),
        ("/api/surveys?call_id=%00", 400),
    ],
)
async def test_hostile_queries_are_json_4xx(hotline, path: str, status: int) -> None:
    method = "POST" if path.endswith("/resolve") else "GET"
    got, body = await raw(hotline, method, path, headers=AUTH)
    assert got == status, body
    assert isinstance(body["error"], str)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"regions": ["north"], "message": "x", "expected_fix_at": "0001-01-01T00:00:00"},
            "expected_fix_at",
        ),
        ({"regions": ["north"], "message": "fibre cut\u0000"}, "message"),
        ({"regions": ["north"], "message": "x", "prompt": "../../../etc/passwd"}, "prompt"),
        ({"regions": ["north"], "message": "x", "prompt": "custom/notice"}, "prompt"),
        ({"regions": ["nor\u0000th"], "message": "x"}, "regions"),
    ],
)
async def test_hostile_outage_bodies_are_refused(hotline, body: dict, field: str) -> None:
    status, answer = await raw(hotline, "POST", "/api/outages", json=body, headers=AUTH)
    assert status == 400
    assert any(field in d["field"] for d in answer["details"]), answer


async def test_garbage_gzip_body_is_a_400(hotline) -> None:
    headers = AUTH | {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    status, body = await raw(
        hotline, "POST", "/api/outages", data=b"\x1f\x8bnot gzip at all", headers=headers
    )
    assert status == 400, body
    # a real gzip body is read
    good = gzip.compress(b'{"regions": ["north"], "message": "fibre cut"}')
    status, body = await raw(hotline, "POST", "/api/outages", data=good, headers=headers)
    assert status == 201 and body["regions"] == ["north"]


async def test_ticket_is_found_by_the_number_the_caller_heard(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "2" + "1")
    await hotline.finish(call)
    created = hotline.events(call.uniqueid, "ticket.created")[0].data
    by_number = await hotline.api("GET", f"/api/tickets/{created['ticket']}")
    by_id = await hotline.api("GET", f"/api/tickets/{created['ticket_id']}")
    assert by_number == by_id and by_id[0] == 200
    assert by_id[1]["number"] == created["ticket"]


async def test_failed_authentications_are_counted_and_logged_once_per_source(
    hotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for header in ("Bearer wrong-token-123", "Bearer", "Bearer ", "Basic x"):
        headers = {"Authorization": header}
        status, body = await raw(hotline, "GET", "/api/tickets", headers=headers)
        assert status == 401 and body["error"]
    for _ in range(50):
        await raw(hotline, "GET", "/api/tickets", headers={"Authorization": "Bearer nope"})
    lines = [r for r in caplog.records if "refused API requests" in r.getMessage()]
    assert len(lines) == 1 and "127.0.0.1" in lines[0].getMessage()
    async with aiohttp.ClientSession() as http, http.get(hotline.base + "/metrics") as resp:
        metrics = await resp.text()
    assert "ccserver_http_auth_failures_total 54.0" in metrics
    assert "nope" not in caplog.text and "wrong-token" not in caplog.text


def test_empty_and_short_tokens_are_refused_at_start() -> None:
    for tokens in ([""], ["   "], ["short"], [" padded-token-123 "]):
        with pytest.raises(ConfigError, match=r"http\.api_tokens: .*at least 12 characters"):
            load_config(None, http={"api_tokens": tokens})
    assert load_config(None, http={"api_tokens": ["a-long-enough-token"]})


@pytest.mark.timeout(60)
async def test_slow_connections_do_not_starve_the_ivr_and_are_cut_off(hotline) -> None:
    port = hotline.server.http_port
    loop = asyncio.get_running_loop()
    slow: list[socket.socket] = []
    try:
        for _ in range(300):  # slowloris: a request line and one header, never finished
            s = socket.socket()
            s.setblocking(False)
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        # the per-source cap (64) turned most away with a 503 at once
        runner = hotline.server._runner
        assert runner is not None
        gate = next(iter(runner.sites)).gate
        assert gate.open["127.0.0.1"] == 64 and gate.refused >= 300 - 64 - 1
        # meanwhile a caller is served by the IVR end to end
        call = await hotline.sim.place_call("5550100001", dtmf="11" + "1234")
        await hotline.finish(call, timeout=20)
        assert hotline.ended(call)["outcome"] == "self_served"
    finally:
        for s in slow:
            s.close()


async def test_slow_headers_and_a_slow_body_are_cut_off(tmp_path: Path) -> None:
    settings = load_config(
        None,
        ami={"port": 9, "backoff_min_s": 1, "backoff_max_s": 5},  # no Asterisk needed
        http={
            "port": 0,
            "api_tokens": [TOKEN],
            "header_timeout_s": 1.0,
            "body_timeout_s": 1.0,
        },
        store={"url": f"sqlite+aiosqlite:///{tmp_path}/x.db", "spool_dir": str(tmp_path / "sp")},
    )
    async with Server(settings) as server:
        await cut_off(server.http_port)


async def cut_off(port: int) -> None:
    # headers that never end: the connection is closed after the header timeout
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    started = time.monotonic()
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    assert time.monotonic() - started < 5
    writer.close()

    # a body at a few bytes a second: 408 after the body timeout, then closed
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/outages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    started = time.monotonic()
    answer = b""
    async with asyncio.timeout(15):
        while b"\r\n\r\n" not in answer:
            writer.write(b" ")  # the trickle is the attack; the read paces it
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer += await asyncio.wait_for(reader.read(4096), 0.3)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 8
    writer.close()
