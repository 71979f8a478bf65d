"""A whole hotline run, every log line grepped for personal data and secrets.

The simulator's callers check balances (right and wrong PINs, an account typed
in), report faults with callback numbers and are handed to agents; supervisors
use the API. Not one log line of any logger may carry a caller number, an
account number, a PIN, the API token or the AMI secret.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import aiohttp
import pytest
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts.sink import ListSink

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "hotline_conftest", REPO / "tests" / "integration" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
hotline = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = hotline  # its dataclasses look themselves up there
_spec.loader.exec_module(hotline)

SECRETS = ("ccsecret", hotline.TOKEN)


@pytest.mark.timeout(120)
async def test_no_caller_account_pin_token_or_secret_in_any_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the server's default level, every logger
    agi_port = free_port()
    agents = [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 5}]
    sim = AsteriskSimulator(
        parse_scenario({"agents": agents}),
        time_scale=0.01,
        agi_host="127.0.0.1",
        agi_port=agi_port,
    )
    await sim.start()
    seen = ListSink()
    server = Server(hotline.make_settings(sim.port, agi_port, tmp_path), extra_sinks=(seen,))
    await server.start()
    try:
        await hotline.seed_accounts(server.settings.store.url)
        await server.cti.client.wait_connected(5)
        assert server.orchestrator is not None
        server.orchestrator.agent_action("ana", "login")
        server.orchestrator.agent_action("ana", "ready")
        calls = [
            await sim.place_call("5550100001", dtmf="11" + "1234"),  # balance, right PIN
            await sim.place_call("5550100002", dtmf="11" + "1111" + "2222" + "3333"),  # wrong
            await sim.place_call("5557777777", dtmf="11" + "10000005" + "4321"),  # typed in
            await sim.place_call("5550199999", dtmf="12" + "1" + "2" + "5559876543#" + "1"),
            await sim.place_call("5550100001", dtmf="10"),  # straight to an agent
        ]
        for call in calls:
            await until(lambda call=call: call.done.is_set(), 30)
        headers = {"Authorization": f"Bearer {hotline.TOKEN}"}
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{server.http_port}"
            async with http.get(base + "/api/tickets", headers=headers) as resp:
                tickets = (await resp.json())["tickets"]
            assert len(tickets) == 1
            async with http.get(base + "/api/tickets", headers={"Authorization": "Bearer x"}):
                pass
    finally:
        await server.stop()
        await sim.stop()
    kinds = {e.kind for e in seen.events}
    assert {"ivr.balance_read", "ivr.pin_failed", "ticket.created", "ivr.handoff"} <= kinds

    lines = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert len(lines) > 20
    personal = [n for row in hotline.ACCOUNTS for n in row[:3] if n]
    personal += ["5557777777", "5559876543", "1111", "2222", "3333", *SECRETS]
    leaks = [(word, line) for line in lines for word in personal if word in line]
    assert leaks == []
