"""``ccserver demo``: the server against the built-in Asterisk simulator.

The simulator generates hotline traffic on a loopback port; the server follows
it over real AMI, records it in the embedded store and serves /healthz and
/metrics. Each call is printed as it arrives and ends, then a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
from collections import Counter
from pathlib import Path

from ccserver.app import Server
from ccserver.collector import settle_collector
from ccserver.config import ConfigError, Settings, StoreConfig, load_config
from ccserver.heap import trimmed_heap
from ccserver.logs import setup_logging
from ccserver.people.model import Role
from ccserver.reporting.summary import CallSummary
from ccserver.sim import (
    AsteriskSimulator,
    Scenario,
    ScenarioError,
    default_scenario,
    load_scenario,
)
from ccserver.startup import StartupError, listen_errors, migrate_store
from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.masking import mask_number
from contracts.sink import CallEvent

from .common import StopSignals, free_port, host_port, shown_url
from .db import load_accounts_csv

REPO = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http",
        type=host_port,
        default=("127.0.0.1", 8080),
        metavar="HOST:PORT",
        help="where /healthz, /metrics and the /api listen (default 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--duration", type=float, help="stop after this many seconds (default: at Ctrl-C)"
    )
    parser.add_argument(
        "--sim",
        type=host_port,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="AMI address of the simulated Asterisk (default: a free port on 127.0.0.1)",
    )
    parser.add_argument("--scenario", help="simulator scenario (default: the built-in hotline)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument(
        "--time-scale", type=float, default=0.2, help="real seconds per simulated second"
    )
    parser.add_argument(
        "--store",
        default=StoreConfig().url,
        help="event store URL (default: the store that report, forecast and db read "
        "without --config, %(default)s)",
    )
    parser.add_argument(
        "--acd", default=str(REPO / "config" / "acd.example.yaml"), help="ACD queues and agents"
    )
    parser.add_argument(
        "--ivr", default=str(REPO / "config" / "ivr.example.yaml"), help="IVR menus"
    )
    parser.add_argument(
        "--accounts",
        default=str(REPO / "config" / "accounts.example.csv"),
        help="subscriber accounts loaded for balance inquiries",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


class ConsolePrinter:
    """An event sink that tells a person what the tracker sees."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.outcomes: Counter[str] = Counter()
        self.ivr: Counter[str] = Counter()
        self.queued: set[str] = set()  # calls that reached the queue
        self.started = 0

    def _say(self, at: float, text: str) -> None:
        if not self.quiet:
            print(f"{time.strftime('%H:%M:%S', time.localtime(at))}  {text}", flush=True)

    def emit(self, event: CallEvent) -> None:
        d = event.data
        call = event.call_id[-8:]
        if event.kind == el.CALL_STARTED and str(d.get("channel", "")).startswith("PJSIP/trunk"):
            self.started += 1
            self._say(event.at, f"call {call}: caller {mask_number(d.get('caller'))} arrives")
        elif event.kind == el.CHANNEL_DIALPLAN and d.get("context") == dp.HOLD_CONTEXT:
            self.queued.add(event.call_id)
            self._say(event.at, f"call {call}: waiting in the queue")
        elif event.kind == el.DIAL_BEGIN:
            self._say(event.at, f"call {call}: ringing {d.get('dial_string')}")
        elif event.kind == el.DIAL_END and d.get("status") != "ANSWER":
            self._say(event.at, f"call {call}: {d.get('status', '').lower()} at the agent")
        elif event.kind == el.CHANNEL_BRIDGED and d.get("peers"):
            self._say(event.at, f"call {call}: answered, {d.get('channel')} <-> {d['peers'][0]}")
        elif event.kind == el.IVR_ENDED:
            self.ivr[str(d.get("outcome"))] += 1
            path = " > ".join(d.get("path") or [])
            self._say(event.at, f"call {call}: IVR {d.get('outcome')} ({path})")
        elif event.kind == el.TICKET_CREATED:
            self._say(event.at, f"call {call}: ticket {d.get('ticket')} ({d.get('category')})")
        elif event.kind == el.ACD_OFFER:
            self._say(
                event.at, f"call {call}: offered to agent {d.get('agent')} ({d.get('reason')})"
            )
        elif event.kind == el.CALL_ENDED and str(d.get("caller")):
            outcome = "answered" if d.get("bridged") else "abandoned"
            if not d.get("bridged") and event.call_id not in self.queued:
                # ended in the IVR; its variables say how (they precede the hang-up)
                variables = d.get("variables") or {}
                outcome = (
                    "deflected" if variables.get(dp.CC_DEFLECTED)
                    else "self_served" if variables.get(dp.CC_SELF_SERVED) == "1"
                    else "hung up in the IVR"
                )  # fmt: skip
            self.queued.discard(event.call_id)
            if d.get("reason") == "vanished":
                outcome = "vanished"
            self.outcomes[outcome] += 1
            self._say(event.at, f"call {call}: ended after {d.get('duration_s')} s ({outcome})")


# what a demo user changes instead of the config setting a start-up error names
_DEMO_HINTS = {
    "HTTP": "stop what uses it, or choose another with --http HOST:PORT",
    "simulator": "stop what uses it, or choose another with --sim HOST:PORT",
    "store": "check --store URL",
}


def run(args: argparse.Namespace) -> int:
    host, port = args.http
    secret = secrets.token_urlsafe(16)
    setup_logging("WARNING", "text", [secret])
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
        settings = load_config(
            None,
            ami={"port": 5038, "secret": secret, "ping_interval_s": 5.0},
            http={"host": host, "port": port},
            store={"url": args.store},
            acd={"config": args.acd, "auto_ready": True, "tick_s": 0.2},
            ivr={"config": args.ivr, "agi_port": free_port()},
            # the simulator's MixMonitor writes here (queues with record: true in --acd)
            recordings={"dir": "var/recordings"},
        )
    except (ScenarioError, ConfigError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        # the demo needs its store at once (it loads the accounts): an unreachable one
        # is a mistake to name here, not a server that starts without it
        asyncio.run(migrate_store(settings.store.url))
        return asyncio.run(_demo(args, scenario, settings, secret))
    except (ConfigError, ValueError) as exc:  # a bad ACD/IVR file, a bad accounts CSV
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:  # what started is stopped again: one line, no traceback
        exc.hint = _DEMO_HINTS.get(exc.component, exc.hint)
        print(f"demo: {exc}", file=sys.stderr)
        return 1


# one demo login per role: the agent is the ACD's first agent
DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("demo-agent", "agent"),
    ("demo-supervisor", "supervisor"),
    ("demo-quality", "quality"),
    ("demo-admin", "admin"),
)


async def demo_logins(server: Server) -> list[tuple[str, str, str]]:
    """Make (or reset) the demo's users with fresh passwords: (name, role, password)."""
    agents = list(server.orchestrator.engine.agents) if server.orchestrator else []
    logins: list[tuple[str, str, str]] = []
    for name, role in DEMO_USERS:
        if role == "agent" and not agents:
            continue
        password = secrets.token_urlsafe(9)  # new each run: a demo left listening is no open door
        if not await server.people.set_password(name, password):
            await server.people.add_user(
                name, password, role, agent_id=agents[0] if role == "agent" else None,
                language="zh-CN" if role == "agent" else "en",
            )  # fmt: skip
        logins.append((name, role, password))
    return logins


async def _demo(
    args: argparse.Namespace, scenario: Scenario, settings: Settings, secret: str
) -> int:
    sim_host, sim_port = args.sim
    sim = AsteriskSimulator(
        scenario,
        host=sim_host,
        port=sim_port,
        secret=secret,
        seed=args.seed,
        time_scale=args.time_scale,
        traffic=True,
        agi_host="127.0.0.1",
        agi_port=settings.ivr.agi_port,
    )
    sim.monitor_dir = Path(settings.recordings.dir or "var/recordings")
    printer = ConsolePrinter(args.quiet)
    calls = CallSummary(settings.reports.short_abandon_s)  # the reports' fold, live
    with StopSignals() as stop:
        try:
            # the simulator first and stopped last: the server's stop still talks to it
            async with contextlib.AsyncExitStack() as parts:
                # the demo is a server too, left running (ccserver/heap.py)
                await parts.enter_async_context(trimmed_heap())
                with listen_errors("simulator", f"{sim_host}:{sim_port}", "--sim"):
                    await sim.start()
                parts.push_async_callback(sim.stop)
                settings.ami_nodes()[0].port = sim.port
                server = await parts.enter_async_context(
                    Server(settings, extra_sinks=(printer, calls))
                )
                loaded = await load_accounts_csv(settings.store.url, args.accounts)
                logins = await demo_logins(server)
                print(
                    f"ccserver demo: simulated Asterisk on {sim_host}:{sim.port}, "
                    f"HTTP on http://{settings.http.host}:{server.http_port} (/healthz, /metrics); "
                    f"IVR on agi://127.0.0.1:{settings.ivr.agi_port} ({loaded} accounts); "
                    f"store {shown_url(settings.store.url)}; Ctrl-C to stop",
                    flush=True,
                )
                base = f"http://{settings.http.host}:{server.http_port}"
                print(
                    f"  agent desktop: {base}/desk   wallboard: {base}/board"
                    f"   quality: {base}/quality   admin: {base}/admin"
                    f"   API: {base}/openapi.json",
                    flush=True,
                )
                for name, role, password in logins:
                    print(f"  login ({role}): {name} / {password}", flush=True)
                stop.started()
                settle_collector()  # the demo is a server too (ccserver/collector.py)
                await stop.wait(args.duration)
                summary = server.cti.tracker.summary()
        except asyncio.CancelledError:
            if not stop.stopped_by_signal():
                raise
            return 0  # stopped while starting: nothing to sum up
    truth = Counter(r.outcome for r in sim.ground_truth())
    print("\nsummary")
    print(f"  calls seen by the tracker: {printer.started} (still active: {summary.active_calls})")
    folded = calls.summary()
    print(f"  ended (as the reports count them): {folded.ended}")
    print(f"  IVR outcomes: {folded.ivr_outcomes}")
    print(f"  simulator's own record:  {dict(truth)}")
    print(f"  events written to the store: {server.writer.written}")
    return 0
