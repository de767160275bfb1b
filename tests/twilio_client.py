"""Plays Twilio's part in tests: signs each webhook with `RequestValidator`, as Twilio does.

Nothing here hand-writes a signature: the twilio library computes it for the public URL.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

PUBLIC_BASE = "https://hotline.example.com"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
HOTLINE = "+862161234567"

_sids = itertools.count(1)


def new_sid(prefix: str = "CA") -> str:
    return f"{prefix}{next(_sids):032x}"


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=False)


@dataclass
class TwiML:
    status: int
    text: str
    root: ET.Element | None = None

    @classmethod
    def parse(cls, status: int, text: str) -> "TwiML":
        root = ET.fromstring(text) if status == 200 and text.strip().startswith("<?xml") else None
        return cls(status, text, root)

    def says(self) -> list[str]:
        return [el.text or "" for el in self.root.iter("Say")] if self.root is not None else []

    @property
    def spoken(self) -> str:
        return " ".join(self.says())

    def find(self, tag: str) -> ET.Element | None:
        return None if self.root is None else next(self.root.iter(tag), None)

    def all(self, tag: str) -> list[ET.Element]:
        return [] if self.root is None else list(self.root.iter(tag))

    def path_of(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Twilio:
    """Signed webhook posts against an aiohttp test client."""

    client: object
    base: str = PUBLIC_BASE
    token: str = AUTH_TOKEN
    extra_headers: dict = field(default_factory=dict)

    def sign(self, path: str, params: dict, algorithm: str | None = None) -> str:
        validator = RequestValidator(self.token)
        return validator.compute_signature(self.base + path, params, algorithm)

    async def post(self, path: str, params: dict, *, signature: str | None = None,
                   headers: dict | None = None, algorithm: str | None = None) -> TwiML:
        sig = signature if signature is not None else self.sign(path, params, algorithm)
        all_headers = {"X-Twilio-Signature": sig, **self.extra_headers, **(headers or {})}
        if algorithm:
            all_headers["X-Twilio-Webhooks-Signature-Settings"] = f"algorithm={algorithm}"
        resp = await self.client.post(path, data=params, headers=all_headers)
        return TwiML.parse(resp.status, await resp.text())

    async def follow(self, url: str, params: dict, **kw) -> TwiML:
        parts = urlsplit(url)
        assert url.startswith(self.base), f"TwiML URL {url} is not on PUBLIC_BASE_URL"
        return await self.post(parts.path + (f"?{parts.query}" if parts.query else ""), params, **kw)


@dataclass
class Caller:
    """One inbound call as Twilio would drive it."""

    twilio: Twilio
    from_number: str = "+8613900000001"
    sid: str = field(default_factory=new_sid)
    last: TwiML | None = None
    seq: int = 0

    def params(self, **extra) -> dict:
        base = {
            "CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "From": self.from_number,
            "To": HOTLINE, "CallStatus": "in-progress", "Direction": "inbound",
            "ApiVersion": "2010-04-01", "Caller": self.from_number, "Called": HOTLINE,
        }
        base.update({k: str(v) for k, v in extra.items()})
        return base

    async def dial_in(self) -> TwiML:
        self.last = await self.twilio.post("/twilio/voice", self.params(CallStatus="ringing"))
        return self.last

    async def press(self, digits: str) -> TwiML:
        gather = self.last.find("Gather")
        assert gather is not None, f"no <Gather> in {self.last.text}"
        self.last = await self.twilio.follow(gather.get("action"), self.params(Digits=digits))
        return self.last

    async def hangup(self, *, at: datetime, duration: int) -> TwiML:
        self.seq += 1
        return await self.twilio.post("/twilio/status", self.params(
            CallStatus="completed", CallDuration=duration, Timestamp=rfc2822(at),
            SequenceNumber=self.seq, CallbackSource="call-progress-events"))

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
        base = {
            "CallSid": self.sid, "ParentCallSid": self.caller.sid, "AccountSid": "AC" + "0" * 32,
            "From": HOTLINE, "To": self.number.text, "Direction": "outbound-dial",
            "ApiVersion": "2010-04-01",
        }
        base.update({k: str(v) for k, v in extra.items()})
        return base

    def event_params(self, status: str, at: datetime, seq: int | None = None, **extra) -> dict:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return self.params(CallStatus=status, Timestamp=rfc2822(at), SequenceNumber=seq,
                           CallbackSource="call-progress-events", **extra)

    async def event(self, status: str, at: datetime, seq: int | None = None, **extra) -> TwiML:
        return await self.twilio.follow(self.number.get("statusCallback"),
                                        self.event_params(status, at, seq, **extra))

    async def pick_up_and_screen(self, digits: str | None) -> TwiML:
        screen = await self.twilio.follow(self.number.get("url"), self.params(CallStatus="in-progress"))
        gather = screen.find("Gather")
        assert gather is not None, screen.text
        if digits is None:
            return screen
        return await self.twilio.follow(gather.get("action"),
                                        self.params(CallStatus="in-progress", Digits=digits))

    async def dial_result(self, status: str, bridged: bool | None = None, **extra) -> TwiML:
        params = self.caller.params(DialCallStatus=status, DialCallSid=self.sid, **extra)
        if bridged is not None:
            params["DialBridged"] = "true" if bridged else "false"
        self.caller.last = await self.twilio.follow(self.dial.get("action"), params)
        return self.caller.last
