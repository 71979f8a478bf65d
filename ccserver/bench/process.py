"""A ``ccserver run`` child process with its own HTTP port, for benchmarks and tests.

The soak benchmark and the restart/failover tests drive real processes the
way an operator's service manager does: start, ask ``/healthz``, SIGKILL,
SIGTERM. Requests carry a bearer token the config lists in ``http.api_tokens``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from ..store.pgcluster import free_port

REPO = Path(__file__).resolve().parents[2]


class CcserverProcess:
    """One ``ccserver run`` process (named, for active/standby)."""

    def __init__(self, config: Path, log: Path, token: str, name: str = "") -> None:
        self.config, self.log, self.token, self.name = config, log, token, name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CCSERVER_HTTP__PORT": str(self.port)}
        if self.name:
            env["CCSERVER_HA__NAME"] = self.name
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ccserver", "run", "--config", str(self.config),
                stdout=out, stderr=out, cwd=REPO, env=env,
            )  # fmt: skip

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def health(self) -> tuple[int, dict[str, Any]]:
        """/healthz with the token (the whole body), or (0, {}) while nothing listens."""
        assert self.running, self.log.read_text()[-4000:]
        try:
            # a monitor's check gives up on an answer that does not come, and asks again
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                http.get(self.base + "/healthz", headers=self._auth()) as resp,
            ):
                return resp.status, await resp.json()
        except (aiohttp.ClientError, TimeoutError):
            return 0, {}

    async def until_healthy(self, role: str | None = None, timeout: float = 30) -> dict[str, Any]:
        """Poll /healthz until it answers 200 (with ``role``, when given); the body."""
        status, body = 0, dict[str, Any]()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    status, body = await self.health()
                    if status == 200 and (role is None or body.get("role") == role):
                        return body
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise TimeoutError(
                f"{self.name or 'ccserver'} not {role or 'healthy'} within {timeout:g} s "
                f"(last /healthz: {status} {body.get('role') or ''}); see {self.log}"
            ) from None

    async def until_written(self, timeout: float = 60) -> dict[str, Any]:
        """Poll /healthz until the event writer has nothing queued; the store's figures."""
        async with asyncio.timeout(timeout):
            while True:
                store = (await self.health())[1].get("store") or {}
                if store and not store.get("queued") and not store.get("lag_s"):
                    return dict(store)
                await asyncio.sleep(0.05)

    def rss_mb(self) -> float:
        """The process's resident memory now (Linux ``/proc``), in MB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")  # not Linux

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> int | None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return None if self.proc is None else self.proc.returncode

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, json=body, headers=self._auth()) as resp,
        ):
            return resp.status, await resp.json()

    async def agents(self) -> dict[str, dict[str, Any]]:
        status, body = await self.api("GET", "/api/agents")
        assert status == 200, body
        return {a["id"]: a for a in body["agents"]}

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
