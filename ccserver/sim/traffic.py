"""Scripted callers: hotline calls placed by tests or arriving by the scenario's traffic."""

from __future__ import annotations

import logging

from contracts.masking import mask_number

from .agi import DtmfScript
from .channels import RING, Channel
from .dialplan import DialplanMixin
from .truth import CallerRecord, CallHandle

log = logging.getLogger("ccserver.sim")


class TrafficMixin(DialplanMixin):
    """Callers dialling the hotline from the SIP trunk, and their patience."""

    # --- scripted people ----------------------------------------------------
    async def place_call(
        self,
        caller_num: str = "5551234",
        caller_name: str = "Caller",
        dtmf: str = "",
        patience: float | None = None,
        *,
        vip: bool = False,
        variables: dict[str, str] | None = None,
    ) -> CallHandle:
        """A caller dials the hotline from the SIP trunk.

        ``variables`` are set on the channel as it arrives, as a trunk header
        or an IVR would (``CC_QUEUE``, ``CC_SKILLS``...).
        """
        self._caller_seq += 1
        ch = self._new_channel(
            f"PJSIP/trunk-{self._next_chan():08x}",
            "cc-hotline",
            self.scenario.hotline,
            state=RING,
            cid=(caller_num, caller_name),
        )
        record = CallerRecord(
            self._caller_seq, caller_num, self.last_stamp, ch.uniqueid, ch.name, vip
        )
        self.records.append(record)
        handle = CallHandle(ch, record)
        self._handles[ch.name] = handle
        self._dtmf[ch.name] = DtmfScript(dtmf)
        for name, value in (variables or {}).items():
            self.set_var(ch, name, value)
        log.info("caller %s dials the hotline", mask_number(caller_num))
        self._start_runner(ch, "cc-hotline", self.scenario.hotline, 1)
        if patience is not None:
            self._spawn(self._patience(ch, patience))
        return handle

    async def hangup_channel(self, name: str, cause: int = 16) -> None:
        """The party on a channel hangs up."""
        ch = self.channels.get(name)
        if ch is not None:
            self.hangup(ch, cause)

    async def _patience(self, ch: Channel, patience: float) -> None:
        await self.sleep(patience)
        if not ch.hungup and ch.bridge is None:
            self.hangup(ch, 16)

    async def _arrivals(self) -> None:
        traffic = self.scenario.callers
        if traffic.calls_per_hour <= 0:
            return
        n = 0
        mixes = traffic.dtmf
        while traffic.max_calls is None or n < traffic.max_calls:
            await self.sleep(self.rng.expovariate(traffic.calls_per_hour / 3600.0))
            n += 1
            number = traffic.number_prefix + str(self.rng.randrange(traffic.numbers)).zfill(5)
            if traffic.vip_numbers and self.rng.random() < 0.05:
                number = self.rng.choice(traffic.vip_numbers)
            script = self.rng.choices([m.script for m in mixes], [m.weight for m in mixes])[0]
            patience = self.rng.expovariate(1.0 / traffic.patience_mean_s)
            await self.place_call(
                number, "Hotline Caller", script, patience, vip=number in traffic.vip_numbers
            )
