"""The commands a newcomer runs: the demo, and the simulator alone under panoramisk."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from panoramisk import Manager

from ccserver.commands.common import free_port

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


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


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


def ccserver(*args: str, timeout: float = 10) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI; the result and how long it took."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ccserver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    return proc, time.monotonic() - started


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
    proc, took = ccserver("run", "--config", str(config))
    assert proc.returncode == 1 and took < 10
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected.format(port=busy_port)), proc.stderr


def test_run_with_an_unreachable_store_exits_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://cc:pw@127.0.0.1:{free_port()}/cc"
    proc, took = ccserver("run", "--config", str(run_config(tmp_path, store={"url": url})))
    assert proc.returncode == 1 and took < 10
    assert proc.stderr.splitlines() == [
        f"ccserver: store: cannot reach the database at {url.replace(':pw@', ':***@')}:"
        " connection refused (check store.url)"
    ]


@pytest.mark.parametrize("option", ["--http", "--sim"])
def test_demo_with_a_busy_port_exits_with_one_line(
    tmp_path: Path, busy_port: int, option: str
) -> None:
    store = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    http = ["--http", "127.0.0.1:0"] if option == "--sim" else []
    proc, took = ccserver("demo", "--duration", "30", "--store", store, *http,
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
    proc, _ = ccserver("demo", "--duration", "3", "--quiet", "--http", "127.0.0.1:0",
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
