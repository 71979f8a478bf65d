"""The commands a newcomer runs: the demo, and the simulator alone under panoramisk."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from panoramisk import Manager

from ccserver.commands.common import free_port


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
    assert "Traceback" not in proc.stderr


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
