"""Plays Twilio's part in tests: signs each webhook with `RequestValidator`, as Twilio does.

Nothing here hand-writes a signature: the twilio library computes it for the public URL.
The signing, the TwiML reading and the fields Twilio sends live in `ivr.simulator` (the
`ivr simulate` terminal phone uses the same ones); this module adds the test numbers and
step-by-step helpers that assert what a test expects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from ivr.tools import simulator
from ivr.tools.simulator import TwiML, call_params, leg_params, new_sid, progress_params, rfc2822

PUBLIC_BASE = "https://hotline.example.com"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
HOTLINE = "+862161234567"

__all__ = ["AUTH_TOKEN", "HOTLINE", "PUBLIC_BASE", "Caller", "StaffPhone", "TwiML", "Twilio",
           "new_sid", "rfc2822"]


@dataclass
class Twilio(simulator.Twilio):
    """Signed webhook posts against an aiohttp test client."""

    base: str = PUBLIC_BASE
    token: str = AUTH_TOKEN

    async def follow(self, url: str, params: dict, **kw) -> TwiML:
        assert url.startswith(self.base), f"TwiML URL {url} is not on PUBLIC_BASE_URL"
        return await super().follow(url, params, **kw)


@dataclass
class Caller:
    """One inbound call as Twilio would drive it."""

    twilio: Twilio
    from_number: str = "+8613900000001"
    sid: str = field(default_factory=new_sid)
    last: TwiML | None = None
    seq: int = 0

    def params(self, **extra) -> dict:
        return call_params(sid=self.sid, from_number=self.from_number, to_number=HOTLINE,
                           **extra)

    async def dial_in(self) -> TwiML:
        self.last = await self.twilio.post("/twilio/voice", self.params(CallStatus="ringing"))
        return self.last

    async def press(self, digits: str) -> TwiML:
        gather = self.last.find("Gather")
        assert gather is not None, f"no <Gather> in {self.last.text}"
        self.last = await self.twilio.follow(gather.get("action"), self.params(Digits=digits),
                                             method=gather.get("method", "POST"))
        return self.last

    async def say(self, words: str, confidence: str = "0.9162") -> TwiML:
        """Speak at the `<Gather>`: Twilio posts `SpeechResult` and `Confidence`, no `Digits`."""
        gather = self.last.find("Gather")
        assert gather is not None, f"no <Gather> in {self.last.text}"
        assert "speech" in (gather.get("input") or ""), f"the <Gather> takes no speech: {self.last.text}"
        self.last = await self.twilio.follow(gather.get("action"),
                                             self.params(SpeechResult=words, Confidence=confidence),
                                             method=gather.get("method", "POST"))
        return self.last

    async def hangup(self, *, at: datetime, duration: int) -> TwiML:
        self.seq += 1
        return await self.twilio.post("/twilio/status", progress_params(
            self.params(), status="completed", at=at, sequence=self.seq, CallDuration=duration))

    def dial(self) -> tuple[ET.Element, ET.Element]:
        dial = self.last.find("Dial")
        assert dial is not None, f"no <Dial> in {self.last.text}"
        number = dial.find("Number")
        return dial, number


@dataclass
class StaffPhone:
    """A staff phone rung by a `<Dial><Number>`: sends call-progress events and screens."""

    twilio: Twilio
    caller: Caller
    dial: ET.Element
    number: ET.Element
    sid: str = field(default_factory=lambda: new_sid("CA"))
    seq: int = 0

    def params(self, **extra) -> dict:
        return leg_params(sid=self.sid, parent_sid=self.caller.sid, from_number=HOTLINE,
                          to_number=self.number.text, **extra)

    def event_params(self, status: str, at: datetime, seq: int | None = None, **extra) -> dict:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return progress_params(self.params(), status=status, at=at, sequence=seq, **extra)

    async def event(self, status: str, at: datetime, seq: int | None = None, **extra) -> TwiML:
        return await self.twilio.follow(self.number.get("statusCallback"),
                                        self.event_params(status, at, seq, **extra),
                                        method=self.number.get("statusCallbackMethod", "POST"))

    async def pick_up_and_screen(self, digits: str | None) -> TwiML:
        screen = await self.twilio.follow(self.number.get("url"), self.params(CallStatus="in-progress"),
                                          method=self.number.get("method", "POST"))
        gather = screen.find("Gather")
        assert gather is not None, screen.text
        if digits is None:
            return screen
        return await self.twilio.follow(gather.get("action"),
                                        self.params(CallStatus="in-progress", Digits=digits),
                                        method=gather.get("method", "POST"))

    async def dial_result(self, status: str, bridged: bool | None = None, **extra) -> TwiML:
        params = self.caller.params(DialCallStatus=status, DialCallSid=self.sid, **extra)
        if bridged is not None:
            params["DialBridged"] = "true" if bridged else "false"
        self.caller.last = await self.twilio.follow(self.dial.get("action"), params,
                                                    method=self.dial.get("method", "POST"))
        return self.caller.last
