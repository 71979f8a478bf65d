"""AMI ingest throughput: bytes over TCP to typed events, tracker and sink.

The traffic is the recorded call events of the real-Asterisk captures,
replicated with renumbered Uniqueid/Linkedid/channel names so that many calls
are in progress at once. A loopback server plays Asterisk (banner, Login, then
the event stream); the real ``CtiService`` reads, frames, types, tracks and
hands events to a counting sink. The baseline is the bare framing and parsing
of the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from contracts.sink import CallEvent
from cti.connection import AmiSettings
from cti.service import CtiService
from cti.wire import AmiFramer, AmiMessage, encode_message

CAPTURES = ("holding_redirect.txt", "holding_bridge.txt", "originate_local_queue.txt")
# the captures live in the repository beside the code (tests/data), not on a particular machine
CAPTURES_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "ami-captures"
RENUMBERED = ("Uniqueid", "Linkedid", "Channel", "BridgeUniqueid")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--captures",
        default=str(CAPTURES_DIR),
        help="folder of the recorded AMI captures",
    )
    parser.add_argument("--copies", type=int, default=400, help="replicated calls")
    parser.add_argument("--concurrent", type=int, default=200, help="calls interleaved at once")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one is reported")


def recorded_call_events(folder: Path) -> list[AmiMessage]:
    """The call events of the captures (responses, security and list events left out)."""
    out: list[AmiMessage] = []
    for name in CAPTURES:
        for msg in AmiFramer().feed((folder / name).read_bytes()):
            if not isinstance(msg, AmiMessage):
                continue
            if (msg.get("Privilege") or "").startswith(("call", "dialplan", "dtmf")):
                out.append(msg)
    return out


def replicate(events: list[AmiMessage], copies: int, concurrent: int) -> bytes:
    """Renumbered copies of the events, ``concurrent`` calls interleaved."""
    chunks: list[bytes] = []
    for start in range(0, copies, concurrent):
        batch = range(start, min(copies, start + concurrent))
        for msg in events:
            for k in batch:
                chunks.append(
                    encode_message(
                        (key, f"{value}-{k}" if key.endswith(RENUMBERED) and value else value)
                        for key, value in msg.headers
                    )
                )
    return b"".join(chunks)


class CountingSink:
    """Counts call events (the cheapest honest sink)."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, event: CallEvent) -> None:
        self.count += 1


def _fake_asterisk(sock: socket.socket, data: bytes, started: list[float]) -> None:
    """Asterisk's side, in its own thread as it is its own process: login, list, stream."""
    conn, _ = sock.accept()
    with conn:
        conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
        framer = AmiFramer(expect_banner=False)
        answered = 0
        while answered < 3:  # the Login, then the resync's CoreShowChannels and DBGetTree
            for msg in framer.feed(conn.recv(65536)):
                assert isinstance(msg, AmiMessage)
                answered += 1
                aid = ("ActionID", msg.action_id or "")
                if msg.action == "Login":
                    conn.sendall(
                        encode_message(
                            [("Response", "Success"), aid, ("Message", "Authentication accepted")]
                        )
                    )
                else:
                    conn.sendall(
                        encode_message(
                            [
                                ("Response", "Success"),
                                aid,
                                ("EventList", "start"),
                                ("Message", "Result will follow"),
                            ]
                        )
                        + encode_message(
                            [
                                ("Event", f"{msg.action}Complete"),  # an empty list
                                aid,
                                ("EventList", "Complete"),
                                ("ListItems", "0"),
                            ]
                        )
                    )
        started.append(time.perf_counter())
        conn.sendall(data)
        conn.recv(1)  # until ccserver logs off or closes


async def _ingest(data: bytes, n_events: int) -> float:
    sock = socket.create_server(("127.0.0.1", 0))
    started: list[float] = []
    peer = threading.Thread(target=_fake_asterisk, args=(sock, data, started), daemon=True)
    peer.start()
    done = asyncio.Event()
    seen = 0

    async def count(_: Any) -> None:
        nonlocal seen
        seen += 1
        if seen >= n_events:
            done.set()

    service = CtiService(
        AmiSettings(
            port=sock.getsockname()[1],
            secret="bench",
            ping_interval_s=3600,
            queue_size=n_events + 10,
        ),
        CountingSink(),
    )
    service.subscribe(count)
    await service.start()
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started[0]
    await service.stop()
    sock.close()
    return elapsed


def parse_only(data: bytes, chunk: int = 65536) -> int:
    """Frame and parse the bytes as a socket would deliver them; count the events."""
    framer = AmiFramer(expect_banner=False)
    count = 0
    for start in range(0, len(data), chunk):
        count += len(framer.feed(data[start : start + chunk]))
    return count


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the ingest and the parse-only baseline over the same bytes (best of --repeat)."""
    folder = Path(args.captures)
    missing = [name for name in CAPTURES if not (folder / name).is_file()]
    if missing:
        print(f"bench ami: captures not found: {folder / missing[0]}", file=sys.stderr)
        raise SystemExit(2)
    events = recorded_call_events(folder)
    data = replicate(events, args.copies, args.concurrent)
    n = len(events) * args.copies
    parse_s = ingest_s = float("inf")
    for _ in range(args.repeat):
        gc.collect()
        t0 = time.perf_counter()
        parsed = parse_only(data)
        parse_s = min(parse_s, time.perf_counter() - t0)
        assert parsed == n, (parsed, n)
        gc.collect()
        ingest_s = min(ingest_s, asyncio.run(_ingest(data, n)))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "events": n,
        "bytes": len(data),
        "seconds": round(ingest_s, 3),
        "events_per_s": round(n / ingest_s),
        "parse_only_events_per_s": round(n / parse_s),
        "ratio": round(parse_s / ingest_s, 3),
        "rss_mb": round(rss_mb, 1),
    }
