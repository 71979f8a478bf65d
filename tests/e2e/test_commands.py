"""The commands a newcomer runs: the demo, and the simulator alone under panoramisk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from panoramisk import Manager
from support import run_cli, until

from ccserver.commands.common import free_port
from contracts.sink import CallEvent

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_and_prints_what_it_saw(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccserver",
            "demo",
            "--duration",
            "6",
            "--time-scale",
            "0.05",
            "--http",
            f"127.0.0.1:{port}",
            "--store",
            f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"HTTP on http://127.0.0.1:{port}" in out
    # the pages and one login per role, to try the simulated hotline in a browser
    for page in ("desk", "board", "quality", "admin"):
        assert f"127.0.0.1:{port}/{page}" in out
    roles = ("agent", "supervisor", "quality", "admin")
    assert all(f"login ({role}): demo-{role} / " in out for role in roles)
    assert "arrives" in out and "summary" in out
    seen = int(out.split("calls seen by the tracker: ")[1].split()[0])
    assert seen >= 3
    assert "Traceback" not in proc.stderr + out and "CancelledError" not in proc.stderr


async def test_sim_asterisk_serves_a_plain_panoramisk_client() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccserver",
        "sim-asterisk",
        "--listen",
        f"127.0.0.1:{port}",
        "--user",
        "admin",
        "--secret",
        "topsecret",
        "--time-scale",
        "0.01",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(30):
            while b"listening" not in await proc.stderr.readline():
                pass
        manager = Manager(
            host="127.0.0.1", port=port, username="admin", secret="topsecret", ping_delay=3600
        )
        events: list[str] = []
        manager.register_event("Newchannel", lambda _m, e: events.append(e.channel))
        await manager.connect()
        async with asyncio.timeout(30):
            while not events:  # the built-in traffic brings callers
                await asyncio.sleep(0.05)
        version = await manager.send_action({"Action": "Command", "Command": "core show version"})
        assert "Asterisk 22" in version.output
        manager.close()
    finally:
        proc.terminate()
        stderr = (await proc.communicate())[1].decode()
    assert "topsecret" not in stderr
    assert events[0].startswith("PJSIP/trunk-")


# --- start-up failures and stops: one line, no traceback, a prompt exit -------------


def run_config(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    """A ``ccserver run`` config: Asterisk unreachable, quiet logs, everything in tmp_path."""
    config: dict[str, Any] = {
        "ami": {"port": free_port(), "secret": "s3cret-value", "backoff_min_s": 0.05},
        "http": {"host": "127.0.0.1", "port": 0},
        "log": {"level": "ERROR"},
        "store": {
            "url": f"sqlite+aiosqlite:///{tmp_path}/run.db",
            "spool_dir": str(tmp_path / "spool"),
        },
        "acd": {"config": str(REPO / "config" / "acd.example.yaml")},
        "ivr": {"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": 0},
    }
    for name, values in sections.items():
        config[name] = config[name] | values
    path = tmp_path / "ccserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("http", "ccserver: HTTP: cannot listen on 127.0.0.1:{port}: address already in use"),
        ("ivr", "ccserver: IVR: cannot listen on agi://127.0.0.1:{port}: address already in use"),
    ],
    ids=["http", "agi"],
)
def test_run_with_a_busy_port_exits_with_one_line(
    tmp_path: Path, busy_port: int, section: str, expected: str
) -> None:
    key = "agi_port" if section == "ivr" else "port"
    config = run_config(tmp_path, **{section: {key: busy_port}})
    proc, took = run_cli("run", "--config", str(config))
    assert proc.returncode == 1 and took < 10
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected.format(port=busy_port)), proc.stderr


async def test_run_starts_without_the_database_and_stops_cleanly(tmp_path: Path) -> None:
    """PostgreSQL unreachable: ``run`` serves anyway (degraded), spools, and stops on SIGTERM."""
    url = f"postgresql+asyncpg://cc:pw@127.0.0.1:{free_port()}/cc"
    config = run_config(tmp_path, store={"url": url}, log={"level": "WARNING"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccserver", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while b"agents start logged out" not in (line := await proc.stderr.readline()):
                assert line, b"".join(seen).decode()  # exited instead of serving
                seen.append(line)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, rest = await asyncio.wait_for(proc.communicate(), 10)
        took = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = (b"".join(seen) + rest).decode()
    assert proc.returncode == 0 and took < 10, log
    assert "starting without it: events are spooled to" in log and "Traceback" not in log
    assert "pw@" not in log  # the password stays hidden


async def test_run_without_the_database_says_degraded(tmp_path: Path) -> None:
    """The same start in process: /healthz answers 503 degraded with the store unhealthy."""
    from aiohttp import ClientSession

    from ccserver.app import Server
    from ccserver.config import load_config

    url = f"postgresql+asyncpg://cc:pw@127.0.0.1:{free_port()}/cc"
    token = "health-token-123"  # the detail of /healthz needs a supervisor's credentials
    settings = load_config(run_config(tmp_path, store={"url": url}, http={"api_tokens": [token]}))
    auth = {"Authorization": f"Bearer {token}"}
    async with Server(settings) as server, ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.http_port}/healthz", headers=auth) as resp:
            body = await resp.json()
        assert resp.status == 503 and body["status"] == "degraded"
        assert body["store"]["healthy"] is False
        server.sink.emit(CallEvent("e-offline-1", time.time(), "c1", "call.started", {}))
        await until(lambda: server.writer.spooled >= 1)  # kept on disk meanwhile


@pytest.mark.parametrize("option", ["--http", "--sim"])
def test_demo_with_a_busy_port_exits_with_one_line(
    tmp_path: Path, busy_port: int, option: str
) -> None:
    store = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    http = ["--http", "127.0.0.1:0"] if option == "--sim" else []
    proc, took = run_cli("demo", "--duration", "30", "--store", store, *http,
                          option, f"127.0.0.1:{busy_port}")  # fmt: skip
    assert proc.returncode == 1 and took < 10
    errors = [line for line in proc.stderr.splitlines() if line.startswith("demo: ")]
    assert errors == [
        f"demo: {'HTTP' if option == '--http' else 'simulator'}: cannot listen on "
        f"127.0.0.1:{busy_port}: address already in use (stop what uses it, or choose "
        f"another with {option} HOST:PORT)"
    ]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_short_demo_ends_without_a_traceback(tmp_path: Path) -> None:
    store = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    proc, _ = run_cli("demo", "--duration", "3", "--quiet", "--http", "127.0.0.1:0",
                       "--store", store, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "summary" in proc.stdout
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "CancelledError" not in output


@pytest.mark.parametrize("command", ["demo", "run"])
async def test_sigterm_stops_the_server_cleanly(tmp_path: Path, command: str) -> None:
    if command == "demo":
        args = ["demo", "--duration", "600", "--http", "127.0.0.1:0",
                "--store", f"sqlite+aiosqlite:///{tmp_path}/demo.db"]  # fmt: skip
        ready = b"Ctrl-C to stop"
    else:  # Asterisk unreachable: start-up over, AMI retrying in the background
        args = ["run", "--config", str(run_config(tmp_path, log={"level": "INFO"}))]
        ready = b"HTTP on http://"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccserver", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    stream = proc.stdout if command == "demo" else proc.stderr
    assert stream is not None
    try:
        async with asyncio.timeout(60):
            while ready not in await stream.readline():
                pass
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)
        took = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0 and took < 10, stderr.decode()
    assert b"Traceback" not in stdout + stderr
    if command == "demo":
        assert b"summary" in stdout


async def test_events_kept_while_the_database_was_away_are_written_when_it_is_back(
    tmp_path: Path,
) -> None:
    """The writer started without its database: spooled, across a restart, then caught up."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from ccserver.store import EventWriter, call_events, upgrade_database

    url = f"sqlite+aiosqlite:///{tmp_path}/late.db"  # no tables yet: every write fails
    spool = tmp_path / "spool"

    def writer() -> EventWriter:
        return EventWriter(url, spool_dir=spool, flush_interval_s=0.02, retry_max_s=0.05)

    def event(n: int) -> CallEvent:
        return CallEvent(f"e{n}", 1_800_000_000.0 + n, "c1", "call.started", {"n": n})

    first = writer()
    await first.start_offline(time.time())
    for n in range(3):
        first.emit(event(n))
    await until(lambda: first.spooled == 3 and first.failures > 0)
    assert first.written == 0 and not first.healthy
    await first.stop()  # the database still away: the events stay in the spool

    second = writer()
    await second.start_offline(time.time())  # numbering goes on after the spool's last event
    second.emit(event(3))
    await until(lambda: second.spooled == 4)
    await asyncio.to_thread(upgrade_database, url)  # the database is back
    second.database_back()
    await until(lambda: second.written == 4 and second.healthy)
    await second.stop()

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(call_events).order_by(call_events.c.seq))).all()
    await engine.dispose()
    assert [r.id for r in rows] == ["e0", "e1", "e2", "e3"]
    seqs = [r.seq for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 4))


def test_report_after_the_demo_shows_the_demos_calls(tmp_path: Path) -> None:
    """The demo and ``report`` share the default store (var/ccserver.db of the directory)."""
    began = time.time()
    demo = subprocess.run(
        [sys.executable, "-m", "ccserver", "demo", "--duration", "4", "--time-scale", "0.05",
         "--quiet", "--http", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "store sqlite+aiosqlite:///var/ccserver.db" in demo.stdout
    report = subprocess.run(
        [sys.executable, "-m", "ccserver", "report", "calls",
         "--from", str(began - 60), "--to", str(time.time() + 60)],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert len(body["rows"]) >= 1 and body["from"] == began - 60 and body["interval_s"] == 1800
    assert (tmp_path / "var" / "ccserver.db").exists()


def test_bench_ami_runs_from_the_repositorys_own_captures() -> None:
    """The AMI benchmark needs only the repository (no ../shared), end to end over TCP."""
    proc, _ = run_cli("bench", "ami", "--json", "--copies", "20", "--concurrent", "10", timeout=60)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["events"] > 1000 and figures["events_per_s"] > 0
