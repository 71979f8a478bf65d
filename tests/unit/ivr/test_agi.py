"""FastAGI replies and framing, against the real capture's lines, over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.agi import AgiError, AgiHangup, AgiServer, AgiSession, parse_reply


@pytest.mark.parametrize(
    ("line", "code", "result", "data"),
    [
        ("200 result=0", 200, "0", ""),
        ("200 result=1 (5556000)", 200, "1", "5556000"),
        ("200 result=1 (Local/6000@ivr-1d;2 6000)", 200, "1", "Local/6000@ivr-1d;2 6000"),
        ("200 result=-1 endpos=0", 200, "-1", ""),
        ("200 result=53 endpos=13760", 200, "53", ""),
        ("200 result= (timeout)", 200, "", "timeout"),
        ("200 result=12 (timeout)", 200, "12", "timeout"),
        ("510 Invalid or unknown command", 510, "", ""),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, "", ""),
    ],
)  # fmt: skip
def test_parse_reply(line: str, code: int, result: str, data: str) -> None:
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data) == (code, result, data)


def test_every_reply_in_the_capture_parses(captures: Path) -> None:
    lines = (captures / "dtmf_fastagi.agi.txt").read_text().splitlines()
    replies = [parse_reply(x) for x in lines if x[:3].isdigit() and x[3:4] == " "]
    assert [r.code for r in replies].count(200) >= 12
    assert {r.code for r in replies} == {200, 510, 520}


class Peer:
    """Plays Asterisk's side of one AGI connection from a script of reply lines."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.commands: list[str] = []

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_network_script: t\nagi_uniqueid: 1.1\n\n")
        for reply in self.replies:
            line = await reader.readline()
            if not line:
                break
            self.commands.append(line.decode().strip())
            writer.write(reply)
            await writer.drain()
        await reader.read()  # until ccserver closes
        writer.close()


@pytest.fixture
async def served() -> AsyncIterator[tuple[list[object], AgiServer]]:
    results: list[object] = []

    async def handler(agi: AgiSession) -> None:
        for command in ("STREAM FILE", "NOOP", "ANSWER"):
            try:
                results.append(await agi.command(command))
            except (AgiError, AgiHangup) as exc:
                results.append(exc)

    server = AgiServer({"t": handler}, "127.0.0.1", 0)
    await server.start()
    yield results, server
    await server.stop()


async def test_multi_line_usage_reply_does_not_desync_later_commands(served) -> None:
    results, server = served
    peer = Peer(
        [
            b"520-Invalid command syntax.  Proper usage follows:\nSend the given file.\n"
            b"520 End of proper usage.\n",
            b"200 result=0\n",
            b"200 result=0\n",
        ]
    )
    await asyncio.wait_for(peer.run(server.port), 5)
    assert isinstance(results[0], AgiError)
    assert [getattr(r, "line", None) for r in results[1:]] == ["200 result=0", "200 result=0"]


async def test_hangup_line_marks_the_session_dead(served) -> None:
    results, server = served
    peer = Peer([b"200 result=-1 endpos=0\nHANGUP\n", b"HANGUP\n200 result=0\n"])
    await asyncio.wait_for(peer.run(server.port), 5)
    assert getattr(results[0], "result", None) == "-1"
    # NOOP's reply follows the HANGUP lines; then the caller is known gone
    assert getattr(results[1], "result", None) == "0"
    assert isinstance(results[2], AgiHangup)  # ANSWER is never sent
    assert peer.commands == ["STREAM FILE", "NOOP"]


async def test_connection_closed_before_headers_end_is_dropped(served) -> None:
    _, server = served
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")
    writer.close()
    await asyncio.sleep(0.05)
    assert server.active == 0 and server.sessions_total == 0


async def test_unknown_script_is_refused_and_closed(served) -> None:
    _, server = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_script: nope\n\n")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    assert server.sessions_failed == 1
