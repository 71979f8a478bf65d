"""The simulator's FastAGI client: Asterisk's side of an AGI(agi://...) call.

The simulated caller's DTMF script answers the IVR: a string of tokens, read
in order by the commands that wait for input. A digit (0-9, *, #) is a key
press; ``w`` means the caller presses nothing at this prompt (the command
times out); ``h`` means the caller hangs up at this point. When the script
runs out the caller presses nothing more.

Result lines are Asterisk's, byte for byte (see ``dtmf_fastagi.agi.txt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .channels import Channel

STREAM_FILE_USAGE = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    "Send the given file, allowing playback to be interrupted by the given digits, if any. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or "
    "the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on "
    "error or if the channel was disconnected. If musiconhold is playing before calling "
    "stream file it will be automatically stopped and will not be restarted after "
    "completion.\n"
    "It sets the following channel variables upon completion:\n"
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    "    <value>SUCCESS</value>\n"
    "    <value>FAILED</value>\n"
    "520 End of proper usage.\n"
)
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine\n"
# minimum argument counts of the commands the simulator knows
MIN_ARGS = {
    "ANSWER": 0,
    "HANGUP": 0,
    "NOOP": 0,
    "STREAM FILE": 2,
    "GET DATA": 1,
    "WAIT FOR DIGIT": 1,
    "SAY NUMBER": 2,
    "SAY DIGITS": 2,
    "SAY DATE": 2,
    "SAY DATETIME": 2,
    "SET VARIABLE": 2,
    "GET VARIABLE": 1,
    "GET FULL VARIABLE": 1,
    "VERBOSE": 1,
    "EXEC": 1,
}
_VAR = re.compile(r"\$\{([A-Za-z0-9_()]+)\}")


class DtmfScript:
    """The caller's key presses, consumed by the prompts that wait for input."""

    def __init__(self, script: str) -> None:
        self._tokens = deque(script)

    def next(self) -> str | None:
        """The next token, or None when the caller has nothing more to press."""
        return self._tokens.popleft() if self._tokens else None

    def peek(self) -> str | None:
        return self._tokens[0] if self._tokens else None

    def take_if(self, allowed: str) -> str | None:
        """Consume the next token when it is a digit in ``allowed``."""
        tok = self.peek()
        if tok is not None and tok in allowed and tok not in "wh":
            return self.next()
        return None


@dataclass
class AgiHooks:
    """What an AGI session needs from the simulator around it."""

    set_var: Callable[[Channel, str, str], None]
    dtmf: Callable[[Channel, str], None]
    exec_event: Callable[[Channel, str, int, str, str | None], None]
    answer: Callable[[Channel], None]
    sleep: Callable[[float], Awaitable[None]]
    missing_prompts: frozenset[str]
    agi_version: str = "22.10.1"


def agi_headers(channel: Channel, script: str, request: str, args: list[str]) -> bytes:
    """The ``agi_`` variable block Asterisk sends first, blank line included."""
    pairs = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", request),
        ("agi_channel", channel.name),
        ("agi_language", channel.language),
        ("agi_type", channel.tech),
        ("agi_uniqueid", channel.uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", channel.cid_num),
        ("agi_calleridname", channel.cid_name),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", channel.context),
        ("agi_extension", channel.exten),
        ("agi_priority", str(channel.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", channel.account),
        ("agi_threadid", str(140251824645824 + int(channel.uniqueid.split(".")[-1]))),
    ]
    pairs += [(f"agi_arg_{i}", arg) for i, arg in enumerate(args, 1)]
    return ("".join(f"{k}: {v}\n" for k, v in pairs) + "\n").encode()


class AgiSession:
    """One FastAGI conversation for one channel; returns the AGISTATUS."""

    def __init__(self, channel: Channel, dtmf: DtmfScript, hooks: AgiHooks) -> None:
        self.channel = channel
        self.dtmf = dtmf
        self.hooks = hooks
        self.caller_hung_up = False
        self.pressed = ""  # every key the caller pressed in this session
        self._command_id = 368313136

    async def run(self, host: str, port: int, script: str, args: list[str]) -> str:
        """Connect, send the header block, serve commands until either side ends."""
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            return "FAILURE"
        try:
            writer.write(agi_headers(self.channel, script, f"agi://{host}:{port}/{script}", args))
            await writer.drain()
            while True:
                try:
                    raw = await reader.readline()
                except (ConnectionError, asyncio.LimitOverrunError, ValueError):
                    break
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line.strip():
                    continue
                if (self.channel.hungup or self.caller_hung_up) and line.split()[
                    0
                ].upper() != "NOOP":
                    writer.write(DEAD_CHANNEL.encode())
                    await writer.drain()
                    continue
                reply, hang = await self._execute(line)
                writer.write(reply.encode())
                if hang:
                    self.caller_hung_up = True
                    writer.write(b"HANGUP\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return "HANGUP" if self.channel.hungup or self.caller_hung_up else "SUCCESS"

    async def _execute(self, line: str) -> tuple[str, bool]:
        """Run one command line; the reply and whether the call is now hung up."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        name, args = _match_command(words)
        self._command_id += 1
        if name is None:
            return "510 Invalid or unknown command\n", False
        if len(args) < MIN_ARGS[name]:
            if name == "STREAM FILE":
                return STREAM_FILE_USAGE, False
            return f"520 Invalid command syntax.  Proper usage not available for {name}.\n", False
        self.hooks.exec_event(self.channel, line, self._command_id, "start", None)
        reply, hang = await getattr(self, "_cmd_" + name.lower().replace(" ", "_"))(args)
        code = reply.split(" ", 1)[0]
        self.hooks.exec_event(self.channel, line, self._command_id, code, reply)
        return reply, hang

    def _press(self, digit: str) -> None:
        self.pressed += digit
        self.hooks.dtmf(self.channel, digit)

    # --- commands -------------------------------------------------------
    async def _cmd_answer(self, args: list[str]) -> tuple[str, bool]:
        self.hooks.answer(self.channel)
        return "200 result=0\n", False

    async def _cmd_hangup(self, args: list[str]) -> tuple[str, bool]:
        return "200 result=1\n", True

    async def _cmd_noop(self, args: list[str]) -> tuple[str, bool]:
        return "200 result=0\n", False

    async def _cmd_verbose(self, args: list[str]) -> tuple[str, bool]:
        return "200 result=1\n", False

    async def _cmd_exec(self, args: list[str]) -> tuple[str, bool]:
        await self.hooks.sleep(0.1)
        return "200 result=0\n", False

    async def _cmd_set_variable(self, args: list[str]) -> tuple[str, bool]:
        self.hooks.set_var(self.channel, args[0], args[1])
        return "200 result=1\n", False

    async def _cmd_get_variable(self, args: list[str]) -> tuple[str, bool]:
        value = self._lookup(args[0])
        return ("200 result=0\n" if value is None else f"200 result=1 ({value})\n"), False

    async def _cmd_get_full_variable(self, args: list[str]) -> tuple[str, bool]:
        text = _VAR.sub(lambda m: self._lookup(m.group(1)) or "", args[0])
        return f"200 result=1 ({text})\n", False

    async def _cmd_stream_file(self, args: list[str]) -> tuple[str, bool]:
        return await self._play(args[0], args[1] if len(args) > 1 else "")

    async def _cmd_say_number(self, args: list[str]) -> tuple[str, bool]:
        reply, hang = await self._play(f"number:{args[0]}", args[1])
        return reply.split(" endpos")[0].rstrip("\n") + "\n", hang

    async def _cmd_say_digits(self, args: list[str]) -> tuple[str, bool]:
        return await self._cmd_say_number(args)

    async def _cmd_say_date(self, args: list[str]) -> tuple[str, bool]:
        return await self._cmd_say_number(args)

    async def _cmd_say_datetime(self, args: list[str]) -> tuple[str, bool]:
        return await self._cmd_say_number(args)

    async def _cmd_wait_for_digit(self, args: list[str]) -> tuple[str, bool]:
        await self.hooks.sleep(0.5)
        tok = self.dtmf.next()
        if tok == "h":
            return "200 result=-1\n", True
        if tok is None or tok == "w":
            return "200 result=0\n", False
        self._press(tok)
        return f"200 result={ord(tok)}\n", False

    async def _cmd_get_data(self, args: list[str]) -> tuple[str, bool]:
        prompt = args[0]
        max_digits = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
        if prompt in self.hooks.missing_prompts:
            return "200 result=-1\n", False
        digits = ""
        timed_out = False
        while len(digits) < max_digits:
            await self.hooks.sleep(0.3)
            tok = self.dtmf.next()
            if tok == "h":
                return "200 result=-1\n", True
            if tok is None or tok == "w":
                timed_out = True
                break
            self._press(tok)
            if tok == "#":
                break
            digits += tok
        # res_agi: "(timeout)" only when the input timed out, with what was typed
        if timed_out:
            return f"200 result={digits} (timeout)\n", False
        return f"200 result={digits}\n", False

    async def _play(self, name: str, escapes: str) -> tuple[str, bool]:
        if name in self.hooks.missing_prompts:
            return "200 result=-1 endpos=0\n", False
        await self.hooks.sleep(0.5)
        if self.dtmf.peek() == "h":
            self.dtmf.next()
            return "200 result=-1 endpos=0\n", True
        digit = self.dtmf.take_if(escapes)
        if digit is not None:
            self._press(digit)
            return f"200 result={ord(digit)} endpos=13760\n", False
        return "200 result=0 endpos=16000\n", False

    def _lookup(self, name: str) -> str | None:
        builtin = {
            "CALLERID(num)": self.channel.cid_num,
            "CALLERID(name)": self.channel.cid_name,
            "CHANNEL": self.channel.name,
            "EXTEN": self.channel.exten,
            "CONTEXT": self.channel.context,
            "UNIQUEID": self.channel.uniqueid,
        }
        return builtin.get(name, self.channel.variables.get(name))


def _match_command(words: list[str]) -> tuple[str | None, list[str]]:
    """Longest known command name at the start of the words, and the rest."""
    upper = [w.upper() for w in words]
    for n in (3, 2, 1):
        name = " ".join(upper[:n])
        if len(upper) >= n and name in MIN_ARGS:
            return name, words[n:]
    return None, words
