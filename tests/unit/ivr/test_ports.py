"""The IVR runs on its ports alone: in-memory accounts and records, no database.

``IvrServices`` and ``FollowUps`` take any ``AccountBackend`` and
``SelfServiceStore``; these tests give them plain in-memory ones and play
Asterisk's side of the AGI session over real TCP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contracts.sink import ListSink
from ivr.accounts import Account, AccountBackend
from ivr.agi import AgiServer, Handler
from ivr.flow import HotlineIvr, IvrServices
from ivr.followup import FollowUps
from ivr.menu import IvrConfig, load_ivr, parse_ivr
from ivr.records import Outage, SelfServiceStore, Ticket

ROOT = Path(__file__).resolve().parents[3]


class MemoryAccounts:
    def __init__(self, *accounts: tuple[Account, str, str]) -> None:
        self.by_number = {a.number: (a, phone, pin) for a, phone, pin in accounts}

    async def find(self, *, number: str | None = None, phone: str | None = None) -> Account | None:
        for account, account_phone, _ in self.by_number.values():
            if account.number == number or (phone and account_phone == phone):
                return account
        return None

    async def verify_pin(self, number: str, pin: str) -> bool:
        return number in self.by_number and self.by_number[number][2] == pin


class MemoryRecords:
    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        self.outages: list[Outage] = []
        self.callbacks: list[dict[str, Any]] = []
        self.surveys: list[dict[str, Any]] = []

    async def create_ticket(
        self,
        *,
        call_id: str,
        account: str | None,
        caller: str,
        callback_number: str,
        category: str,
        due_hours: float,
        now: float,
    ) -> Ticket:
        ticket_id = len(self.tickets) + 1
        ticket = Ticket(
            ticket_id, str(500 + ticket_id), call_id, account, caller, callback_number,
            category, "open", now, now + due_hours * 3600, None, None, None, 0, None,
        )  # fmt: skip
        self.tickets[ticket_id] = ticket
        return ticket

    async def ticket(self, ticket_id: int) -> Ticket | None:
        return self.tickets.get(ticket_id)

    async def set_ticket_callback(
        self,
        ticket_id: int,
        status: str,
        attempts: int,
        rating: int | None = None,
        *,
        reopen: bool = False,
    ) -> None:
        ticket = replace(self.tickets[ticket_id], callback_status=status, rating=rating)
        self.tickets[ticket_id] = replace(ticket, status="open") if reopen else ticket

    async def active_outage_for(self, region: str | None, number: str) -> Outage | None:
        live = [o for o in self.outages if o.resolved_at is None and o.covers(region, number)]
        return live[-1] if live else None

    async def add_callback(
        self,
        *,
        kind: str,
        number: str,
        call_id: str,
        now: float,
        outage_id: int | None = None,
        queue: str | None = None,
    ) -> int:
        self.callbacks.append(
            {"kind": kind, "number": number, "call_id": call_id, "outage_id": outage_id}
        )
        return len(self.callbacks)

    async def record_survey(
        self,
        *,
        call_id: str,
        kind: str,
        score: int,
        now: float,
        agent_id: str | None = None,
        queue: str | None = None,
        ticket_id: int | None = None,
    ) -> bool:
        self.surveys.append({"call_id": call_id, "kind": kind, "score": score, "ticket": ticket_id})
        return True


# the in-memory classes fit the ports: `mypy tests/unit/ivr/test_ports.py` checks these
_ACCOUNTS: type[AccountBackend] = MemoryAccounts
_RECORDS: type[SelfServiceStore] = MemoryRecords


class Asterisk:
    """Asterisk's side of one AGI call: keys for GET DATA prompts, values for variables."""

    def __init__(self, keys: dict[str, str], variables: dict[str, str] | None = None) -> None:
        self.keys = keys
        self.variables = variables or {}
        self.commands: list[str] = []

    def reply(self, command: str) -> bytes:
        words = command.split()
        if command.startswith("GET DATA"):
            return f"200 result={self.keys.get(words[2], '')} (timeout)\n".encode()
        if command.startswith("GET VARIABLE"):
            value = self.variables.get(words[2])
            return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        return b"200 result=0\n"

    async def call(self, port: int, script: str, caller: str = "5551234567") -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"agi_network: yes\nagi_network_script: {script}\nagi_uniqueid: 1.7\n"
            f"agi_channel: PJSIP/trunk-1\nagi_callerid: {caller}\n\n".encode()
        )
        while line := await reader.readline():
            self.commands.append(line.decode().strip())
            writer.write(self.reply(self.commands[-1]))
            await writer.drain()
        writer.close()


@pytest.fixture
def config() -> IvrConfig:
    return load_ivr(ROOT / "config" / "ivr.example.yaml")


Serve = Callable[[str, Handler], Awaitable[AgiServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[AgiServer] = []

    async def start(script: str, handler: Handler) -> AgiServer:
        server = AgiServer({script: handler}, "127.0.0.1", 0)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"t-{next(counter)}"


async def test_repair_follow_up_on_in_memory_records(config: IvrConfig, serve: Serve) -> None:
    records = MemoryRecords()
    ticket = await records.create_ticket(
        call_id="c-1", account=None, caller="5551234567", callback_number="5551234567",
        category="no_signal", due_hours=24, now=1000.0,
    )  # fmt: skip
    sink = ListSink()
    followups = FollowUps(config, records, sink, ids(), clock=lambda: 2000.0)
    server = await serve("repair", followups.repair)
    asterisk = Asterisk(
        {config.prompt("repair_confirm"): "1", config.prompt("repair_rate"): "4"},
        {"CC_TICKET_ID": str(ticket.id)},
    )
    await asyncio.wait_for(asterisk.call(server.port, "repair"), 5)
    assert records.tickets[ticket.id].callback_status == "confirmed"
    assert records.tickets[ticket.id].rating == 4
    assert records.surveys == [{"call_id": "c-1", "kind": "repair", "score": 4, "ticket": 1}]
    assert f'SAY DIGITS {ticket.number} ""' in asterisk.commands
    assert asterisk.commands[-1] == "HANGUP"
    assert [e.call_id for e in sink.events] == ["c-1"] * len(sink.events)


async def test_not_fixed_reopens_the_in_memory_ticket(config: IvrConfig, serve: Serve) -> None:
    records = MemoryRecords()
    ticket = await records.create_ticket(
        call_id="c-2", account=None, caller="5551234567", callback_number="5551234567",
        category="no_power", due_hours=4, now=1000.0,
    )  # fmt: skip
    await records.set_ticket_callback(ticket.id, "calling", 0)
    records.tickets[ticket.id] = replace(records.tickets[ticket.id], status="closed")
    followups = FollowUps(config, records, ListSink(), ids(), clock=lambda: 2000.0)
    server = await serve("repair", followups.repair)
    asterisk = Asterisk({config.prompt("repair_confirm"): "2"}, {"CC_TICKET_ID": "1"})
    await asyncio.wait_for(asterisk.call(server.port, "repair"), 5)
    assert records.tickets[ticket.id].status == "open"
    assert records.tickets[ticket.id].callback_status == "not_fixed"
    assert records.surveys == []


async def test_outage_deflection_on_in_memory_accounts_and_records(serve: Serve) -> None:
    config = parse_ivr(
        {
            "start": "outage",
            "fallback_queue": "general",
            "default_language": "en",
            "languages": {"en": {}},
            "fault": {
                "categories": [{"digit": "1", "name": "other", "prompt": "p", "due_hours": 1}]
            },
            "survey_after_call": False,
            "nodes": {
                "outage": {"type": "action", "action": "outage_notice", "next": {"continue": "q"}},
                "q": {"type": "queue", "queue": "general"},
            },
        }
    )
    account = Account("12345678", "Ann", 1000, "USD", None, "north", "standard")
    records = MemoryRecords()
    records.outages.append(Outage(9, ["north"], [], "mast down", None, 1000.0, None, None))
    services = IvrServices(MemoryAccounts((account, "5551234567", "1111")), records)
    sink = ListSink()
    ivr = HotlineIvr(config, services, sink, ids(), clock=lambda: 2000.0)
    server = await serve("ivr", ivr)
    asterisk = Asterisk(
        {config.prompt("outage_callback_offer"): "1", config.prompt("confirm_or_change"): "1"}
    )
    await asyncio.wait_for(asterisk.call(server.port, "ivr"), 5)
    assert records.callbacks == [
        {"kind": "outage", "number": "5551234567", "call_id": "1.7", "outage_id": 9}
    ]
    assert 'SET VARIABLE CC_DEFLECTED "outage"' in asterisk.commands
    assert ivr.outcomes == {"deflected": 1}
    ended = [e.data for e in sink.events if e.kind == "ivr.ended"]
    assert ended and ended[0]["outcome"] == "deflected"
