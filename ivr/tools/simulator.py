"""Playing Twilio's part without a phone: signed webhooks, TwiML followed as Twilio does.

`ivr simulate` is a terminal phone against a running server; the tests use the same
pieces (tests/twilio_client.py), so there is one notion of what Twilio sends. Requests go
to the server's own address but are signed, with the twilio library, for the URL Twilio
would have requested (`PUBLIC_BASE_URL` + path), exactly as behind a TLS proxy.

Time is simulated: ringing, speaking and waiting move a clock forward instead of
sleeping, and every status callback carries that clock as its RFC 2822 `Timestamp`.
"""

from __future__ import annotations

import math
import sys
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Callable, Protocol, TextIO
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
API_VERSION = "2010-04-01"
# What the simulated recogniser reports for typed words: it heard them clearly.
SPOKEN_CONFIDENCE = "0.92"
KEYS = set("0123456789*#")
MAX_DOCUMENTS = 200  # a TwiML loop (Redirect to itself) ends the simulated call


class SimulationError(Exception):
    """Something Twilio would have refused or logged as an error (e.g. an 11200)."""


def new_sid(prefix: str = "CA") -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits, unique across runs."""
    return f"{prefix}{uuid.uuid4().hex}"


def rfc2822(moment: datetime) -> str:
    """Twilio's `Timestamp`: RFC 2822, in UTC (`Mon, 23 Nov 2026 02:00:01 +0000`)."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=False)


def call_params(*, sid: str, from_number: str, to_number: str,
                status: str = "in-progress", **extra: Any) -> dict[str, str]:
    """The standard fields of a webhook about the caller's own (parent) call."""
    params = {
        "CallSid": sid, "AccountSid": ACCOUNT_SID, "From": from_number, "To": to_number,
        "CallStatus": status, "Direction": "inbound", "ApiVersion": API_VERSION,
        "Caller": from_number, "Called": to_number,
    }
    params.update({k: str(v) for k, v in extra.items()})
    return params


def leg_params(*, sid: str, parent_sid: str, from_number: str, to_number: str,
               **extra: Any) -> dict[str, str]:
    """The standard fields of a request about a `<Dial>`ed phone (a child call)."""
    params = {
        "CallSid": sid, "ParentCallSid": parent_sid, "AccountSid": ACCOUNT_SID,
        "From": from_number, "To": to_number, "Direction": "outbound-dial",
        "ApiVersion": API_VERSION, "Caller": from_number, "Called": to_number,
    }
    params.update({k: str(v) for k, v in extra.items()})
    return params


def progress_params(base: dict[str, str], *, status: str, at: datetime, sequence: int,
                    **extra: Any) -> dict[str, str]:
    """A call-progress status callback: the status, Twilio's Timestamp and SequenceNumber."""
    return {**base, "CallStatus": status, "Timestamp": rfc2822(at),
            "SequenceNumber": str(sequence), "CallbackSource": "call-progress-events",
            **{k: str(v) for k, v in extra.items()}}


@dataclass
class TwiML:
    status: int
    text: str
    root: ET.Element | None = None

    @classmethod
    def parse(cls, status: int, text: str) -> "TwiML":
        root = None
        if status == 200 and text.strip().startswith("<?xml"):
            try:
                root = ET.fromstring(text)
            except ET.ParseError:
                root = None
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
    """Signed webhook requests, as Twilio makes them.

    `client` is an aiohttp `ClientSession` (with `target` the server's real address) or a
    pytest-aiohttp test client (relative paths, `target` empty). `base` is the public URL
    the signature is computed for.
    """

    client: Any
    base: str = ""
    token: str = ""
    target: str = ""
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
        resp = await self.client.post(self.target + path, data=params, headers=all_headers)
        try:
            return TwiML.parse(resp.status, await resp.text())
        finally:
            resp.release()

    async def get(self, path: str, params: dict) -> TwiML:
        """`method="GET"`: the fields go in the query string, which is what gets signed."""
        joined = path + ("&" if "?" in path else "?") + urlencode(params) if params else path
        resp = await self.client.get(self.target + joined,
                                     headers={"X-Twilio-Signature": self.sign(joined, {}),
                                              **self.extra_headers})
        try:
            return TwiML.parse(resp.status, await resp.text())
        finally:
            resp.release()

    def path_for(self, url: str) -> str:
        """The path and query of a TwiML URL, which must be on the public base URL."""
        if url.startswith("/"):
            return url
        if not url.startswith(self.base.rstrip("/") + "/"):
            raise SimulationError(f"TwiML URL {url} is not on PUBLIC_BASE_URL {self.base}: "
                                  "Twilio could not reach it here")
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def follow(self, url: str, params: dict, *, method: str = "POST", **kw) -> TwiML:
        """Fetch a TwiML URL with the verb's `method`: Twilio knows only GET and POST and
        fails the call on anything else."""
        path = self.path_for(url)
        if method not in ("GET", "POST"):
            raise SimulationError(f"TwiML asks Twilio to fetch {url} with method {method!r}: "
                                  "Twilio takes only GET or POST")
        if method == "GET":
            return await self.get(path, params)
        return await self.post(path, params, **kw)


# --------------------------------------------------------------------------- the phone


class Terminal(Protocol):
    """Where the simulated call is heard and answered (a console, or a test)."""

    def show(self, text: str) -> None: ...

    def ask(self, kind: str, question: str, default: str = "") -> str: ...


class ConsoleTerminal:
    """Prints to `out` and reads answers, one line each, from `inp` (stdin by default).

    The end of input is an empty answer, so a scripted session never hangs."""

    def __init__(self, inp: TextIO | None = None, out: TextIO | None = None) -> None:
        self.inp = inp or sys.stdin
        self.out = out or sys.stdout

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def ask(self, kind: str, question: str, default: str = "") -> str:
        hint = f" [{default}]" if default else ""
        print(f"  ? {question}{hint}: ", end="", file=self.out, flush=True)
        line = self.inp.readline()
        answer = line.strip()
        typed = self.inp.isatty() if hasattr(self.inp, "isatty") else False
        if not typed:  # answers piped in: show them, so the transcript reads like a session
            print(answer, file=self.out, flush=True)
        return answer if answer else default


@dataclass
class PhoneChoice:
    """What one staff phone rung by a `<Dial>` does."""

    number: ET.Element
    behaviour: str          # answer, no-answer, busy, caller-hangs-up
    seconds: float = 0      # ringing before it answers (or before the caller hangs up)


@dataclass
class Leg:
    """One dialled phone: its child CallSid and its call-progress events."""

    number: ET.Element
    sid: str
    base: dict[str, str]
    events: set[str]
    callback: str | None
    callback_method: str
    sequence: int = 0
    answered_at: datetime | None = None
    final: str | None = None


def speech_seconds(text: str) -> float:
    """How long a `<Say>` takes to speak: ~4 Chinese characters or ~14 letters a second."""
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return max(1.0, cjk / 4 + (len(text) - cjk) / 14)


def parse_seconds(text: str, default: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return default
    return value if value >= 0 and math.isfinite(value) else default


def yes(text: str) -> bool:
    return text.strip().lower() in ("y", "yes", "1", "是", "好", "接", "接听", "留言")


@dataclass
class Simulation:
    """One inbound call to the hotline, played the way Twilio plays it."""

    twilio: Twilio
    terminal: Terminal
    from_number: str
    to_number: str
    start: datetime
    status_callback: str = "/twilio/status"
    sid: str = field(default_factory=new_sid)
    now: datetime = field(init=False)
    answered: datetime = field(init=False)
    sequence: int = 0
    hung_up: bool = False
    documents: int = 0

    def __post_init__(self) -> None:
        self.now = self.start.astimezone(timezone.utc)
        self.answered = self.now

    # -- small helpers
    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def clock(self) -> str:
        return f"{int((self.now - self.start).total_seconds()):>4}s"

    def show(self, text: str) -> None:
        self.terminal.show(f"[{self.clock()}] {text}")

    def params(self, **extra: Any) -> dict[str, str]:
        return call_params(sid=self.sid, from_number=self.from_number,
                           to_number=self.to_number, **extra)

    async def fetch(self, url: str, params: dict, method: str = "POST") -> TwiML:
        self.documents += 1
        if self.documents > MAX_DOCUMENTS:
            raise SimulationError(f"more than {MAX_DOCUMENTS} TwiML documents: a loop?")
        doc = await self.twilio.follow(url, params, method=method)
        if doc.status != 200 or doc.root is None:
            raise SimulationError(
                f"{url} answered {doc.status} {doc.text[:200]!r}: Twilio would say "
                "'An application error has occurred' (error 11200) and hang up")
        return doc

    def absolute(self, url: str | None, current: str) -> str:
        """Twilio resolves a relative URL against the document's own URL."""
        return urljoin(current, url) if url else current

    # -- the call
    async def run(self) -> str:
        """Dial in, follow the TwiML to the end, and send the call's final status."""
        voice_url = self.twilio.base.rstrip("/") + "/twilio/voice"
        self.show(f"来电 call {self.from_number} → {self.to_number} (CallSid {self.sid})")
        doc = await self.fetch(voice_url, self.params(status="ringing"))
        self.answered = self.now
        url = voice_url
        while True:
            nxt = await self.run_caller_document(doc, url)
            if nxt is None:
                break
            url, params, method = nxt
            if self.hung_up:
                # Twilio still requests the action after a hang-up; its TwiML is ignored.
                await self.twilio.follow(url, params, method=method)
                break
            doc = await self.fetch(url, params, method)
        duration = max(0, round((self.now - self.answered).total_seconds()))
        self.show(f"通话结束 call ended ({'主叫挂机 caller hung up' if self.hung_up else '系统挂断'}), "
                  f"{duration} 秒")
        status_url = self.absolute(self.status_callback, voice_url)
        final = progress_params(self.params(), status="completed", at=self.now,
                                sequence=self.sequence, CallDuration=duration,
                                Duration=math.ceil(duration / 60))
        self.sequence += 1
        resp = await self.twilio.follow(status_url, final)
        if resp.status != 200:
            raise SimulationError(f"status callback {status_url} answered {resp.status}")
        return self.sid

    async def run_caller_document(self, doc: TwiML, url: str):
        """The caller's TwiML, verb by verb. Returns the next request, or None at the end."""
        for verb in list(doc.root):
            tag = verb.tag
            if tag in ("Say", "Play", "Pause"):
                self.speak("您听到 caller hears", verb)
            elif tag == "Gather":
                result = self.gather("keys", "您听到 caller hears", verb)
                if result == "hangup":
                    self.hung_up = True
                    return None
                if result is None:
                    continue
                return (self.absolute(verb.get("action"), url), self.params(**result),
                        verb.get("method", "POST"))
            elif tag == "Redirect":
                target = self.absolute((verb.text or "").strip(), url)
                self.show(f"转到 redirect → {self.twilio.path_for(target)}")
                return target, self.params(), verb.get("method", "POST")
            elif tag == "Record":
                result = self.record(verb)
                if result == "hangup":
                    self.hung_up = True
                    return None
                if result is None:
                    continue  # empty recording: no request, the next verb (Twilio's rule)
                return (self.absolute(verb.get("action"), url), self.params(**result),
                        verb.get("method", "POST"))
            elif tag in ("Hangup", "Reject"):
                self.show("系统挂断 the hotline hangs up")
                return None
            elif tag == "Dial":
                nxt = await self.dial(verb, url)
                if nxt is not None:
                    return nxt
                if self.hung_up:
                    return None
            else:
                self.show(f"(<{tag}> 模拟器不支持 not simulated: skipped)")
        return None

    def speak(self, who: str, verb: ET.Element) -> None:
        if verb.tag == "Say":
            text = (verb.text or "").strip()
            self.show(f"{who}: {text}")
            self.advance(speech_seconds(text))
        elif verb.tag == "Play":
            self.show(f"{who}: ♪ {(verb.text or '').strip()}")
            self.advance(5)
        elif verb.tag == "Pause":
            self.advance(parse_seconds(verb.get("length", "1"), 1))

    def gather(self, kind: str, who: str, verb: ET.Element) -> dict | str | None:
        """Nested prompts are spoken while Twilio listens; then the keys, or the timeout."""
        for child in verb:
            self.speak(who, child)
        finish = verb.get("finishOnKey", "#")
        num_digits = int(parse_seconds(verb.get("numDigits", "0"), 0))
        timeout = parse_seconds(verb.get("timeout", "5"), 5)
        listens = "speech" in (verb.get("input") or "")
        question = ("请按键 keys" + ("或说话 or words" if listens else "")
                    + " (回车=不按键 no key" + (", h=挂机 hang up" if kind == "keys" else "") + ")")
        raw = self.terminal.ask(kind, question).strip()
        if kind == "keys" and raw.lower() in ("h", "hangup"):
            self.show("主叫挂机 caller hangs up")
            return "hangup"
        if listens and raw and any(ch not in KEYS and ch not in finish for ch in raw):
            self.advance(max(2, len(raw) // 3))
            self.show(f"说 said: {raw}")
            return {"SpeechResult": raw, "Confidence": SPOKEN_CONFIDENCE}
        digits = ""
        for ch in raw:
            if ch in finish and finish:
                break
            if ch in KEYS:
                digits += ch
            if num_digits and len(digits) >= num_digits:
                break
        if digits:
            self.advance(len(digits))
            self.show(f"按键 pressed {digits}")
            return {"Digits": digits}
        self.advance(timeout)
        if (verb.get("actionOnEmptyResult") or "").lower() == "true":
            self.show(f"{int(timeout)} 秒无按键 no key: actionOnEmptyResult → action")
            return {}
        self.show(f"{int(timeout)} 秒无按键 no key: 继续下一条 falls through to the next verb")
        return None

    def record(self, verb: ET.Element) -> dict | str | None:
        max_length = parse_seconds(verb.get("maxLength", "3600"), 3600)
        timeout = parse_seconds(verb.get("timeout", "5"), 5)
        finish = verb.get("finishOnKey", "1234567890*#")
        if verb.get("playBeep", "true").lower() != "false":
            self.show("嘀 beep")
        self.advance(1)
        choice = self.terminal.ask("record", "留言吗 leave a message? (y/N, h=挂机 hang up)", "n")
        if choice.lower() in ("h", "hangup"):
            self.show("主叫挂机 caller hangs up (空录音 nothing recorded)")
            return "hangup"
        if not yes(choice):
            self.advance(timeout)
            self.show(f"{int(timeout)} 秒静音 silence: 空录音，不请求 action, 继续下一条 "
                      "(empty recording: Twilio goes on to the next verb)")
            return None
        seconds = parse_seconds(self.terminal.ask("record_seconds", "留言多少秒 how many seconds",
                                                  "12"), 12)
        seconds = max(1, min(round(seconds), int(max_length)))
        self.advance(seconds)
        key = "#" if "#" in finish else ""
        if key:
            self.advance(1)
        recording_sid = new_sid("RE")
        self.show(f"留言 {seconds} 秒 recorded {seconds} s" + (f", 按 {key} 结束" if key else ""))
        return {
            "RecordingUrl": f"https://api.twilio.com/{API_VERSION}/Accounts/{ACCOUNT_SID}"
                            f"/Recordings/{recording_sid}",
            "RecordingSid": recording_sid, "RecordingDuration": seconds,
            **({"Digits": key} if key else {}),
        }

    # -- <Dial>
    def choose(self, number: ET.Element, timeout: float) -> PhoneChoice:
        phone = (number.text or "").strip()
        answer = self.terminal.ask(
            "answers", f"客服电话 {phone} 接听吗 does this phone answer? "
                       "(y=接听 answers, n=不接 no answer, b=占线 busy, h=主叫等不及挂机 caller hangs up)",
            "y").strip().lower()
        if answer.startswith("b"):
            return PhoneChoice(number, "busy")
        if answer.startswith("n"):
            return PhoneChoice(number, "no-answer")
        if answer.startswith("h"):
            seconds = parse_seconds(self.terminal.ask(
                "hangup_seconds", "响铃几秒后主叫挂机 caller hangs up after how many seconds of ringing",
                "8"), 8)
            return PhoneChoice(number, "caller-hangs-up", seconds)
        seconds = parse_seconds(self.terminal.ask(
            "ring_seconds", f"响铃几秒后接听 answers after how many seconds of ringing "
                            f"(Dial timeout {int(timeout)} s)", "7"), 7)
        return PhoneChoice(number, "answer", seconds)

    def leg_for(self, number: ET.Element, caller_id: str) -> Leg:
        events = set((number.get("statusCallbackEvent") or "completed").split())
        sid = new_sid()
        base = leg_params(sid=sid, parent_sid=self.sid, from_number=caller_id,
                          to_number=(number.text or "").strip())
        return Leg(number=number, sid=sid, base=base, events=events,
                   callback=number.get("statusCallback"),
                   callback_method=number.get("statusCallbackMethod", "POST"))

    async def leg_event(self, leg: Leg, event: str, status: str, at: datetime, url: str,
                        **extra: Any) -> None:
        """Send one call-progress event, if the `<Number>` asked for it."""
        if event in ("completed",):
            leg.final = status
        if not leg.callback or event not in leg.events:
            return
        params = progress_params(leg.base, status=status, at=at, sequence=leg.sequence, **extra)
        leg.sequence += 1
        resp = await self.twilio.follow(self.absolute(leg.callback, url), params,
                                        method=leg.callback_method)
        if resp.status != 200:
            raise SimulationError(f"status callback {leg.callback} answered {resp.status}")

    async def screen(self, leg: Leg, url: str) -> bool:
        """The `<Number url>` TwiML on the staff phone after it picks up. True: bridge."""
        number_url = leg.number.get("url")
        if not number_url:
            return True
        who = f"客服电话 staff phone {leg.base['To']} 听到 hears"
        target = self.absolute(number_url, url)
        params = {**leg.base, "CallStatus": "in-progress"}
        doc = await self.fetch(target, params, leg.number.get("method", "POST"))
        while True:
            nxt = None
            for verb in list(doc.root):
                if verb.tag in ("Say", "Play", "Pause"):
                    self.speak(who, verb)
                elif verb.tag == "Gather":
                    result = self.gather("screen_keys", who, verb)
                    if result is None:
                        continue
                    nxt = (self.absolute(verb.get("action"), target),
                           {**params, **result}, verb.get("method", "POST"))
                    break
                elif verb.tag == "Redirect":
                    nxt = (self.absolute((verb.text or "").strip(), target), params,
                           verb.get("method", "POST"))
                    break
                elif verb.tag in ("Hangup", "Reject"):
                    self.show(f"客服电话 {leg.base['To']} 挂断 hangs up: 未接通 not bridged")
                    return False
                else:
                    self.show(f"(<{verb.tag}> on the staff phone: not simulated)")
            if nxt is None:
                return True  # the whisper's TwiML ended: Twilio bridges the two calls
            target, params, method = nxt
            doc = await self.fetch(target, params, method)

    async def dial(self, verb: ET.Element, url: str):
        numbers = [child for child in verb if child.tag == "Number"]
        if not numbers:
            self.show("(<Dial> 没有 <Number> without a <Number>: not simulated)")
            return None
        timeout = parse_seconds(verb.get("timeout", "30"), 30)
        caller_id = verb.get("callerId") or self.from_number
        action = verb.get("action")
        choices = []
        for number in numbers:
            self.show(f"转接 dialling {(number.text or '').strip()} (timeout {int(timeout)} s)")
            choices.append(self.choose(number, timeout))
        legs = [self.leg_for(c.number, caller_id) for c in choices]
        begin = self.now
        for leg in legs:
            await self.leg_event(leg, "initiated", "initiated", begin, url)
        ringing = begin + timedelta(seconds=1)
        for leg, choice in zip(legs, choices):
            if choice.behaviour == "busy":
                self.now = ringing
                self.show(f"{leg.base['To']} 占线 busy")
                await self.leg_event(leg, "completed", "busy", ringing, url, CallDuration=0)
            else:
                await self.leg_event(leg, "ringing", "ringing", ringing, url)
        self.now = ringing
        ringers = [(leg, c) for leg, c in zip(legs, choices) if c.behaviour != "busy"]
        hangup_at = min((ringing + timedelta(seconds=c.seconds) for _, c in ringers
                         if c.behaviour == "caller-hangs-up"), default=None)
        # A <Dial timeout> counts from the start of the attempt, set-up (1 s) included.
        deadline = begin + timedelta(seconds=timeout)
        answers = sorted(((ringing + timedelta(seconds=c.seconds), leg) for leg, c in ringers
                          if c.behaviour == "answer"
                          and ringing + timedelta(seconds=c.seconds) <= deadline),
                         key=lambda pair: pair[0])
        for leg, c in ringers:
            if c.behaviour == "answer" and ringing + timedelta(seconds=c.seconds) > deadline:
                self.show(f"{leg.base['To']} 要响 {c.seconds:g} 秒才接, 超过 Dial timeout "
                          f"{int(timeout)} 秒: 无人接听 no-answer")
        bridged: Leg | None = None
        for at, leg in answers:
            if hangup_at is not None and hangup_at <= at:
                break
            if leg.final is not None:
                continue
            self.now = at
            rang = (at - ringing).total_seconds()
            self.show(f"{leg.base['To']} 响铃 {rang:g} 秒后接听 answered after {rang:g} s of ringing")
            leg.answered_at = at
            await self.leg_event(leg, "answered", "in-progress", at, url)
            # The first phone to answer takes the call; the others stop ringing.
            for other in legs:
                if other is not leg and other.final is None:
                    await self.leg_event(other, "completed", "canceled", at, url, CallDuration=0)
            if await self.screen(leg, url):
                bridged = leg
            else:
                talk = round((self.now - at).total_seconds())
                await self.leg_event(leg, "completed", "completed", self.now, url,
                                     CallDuration=talk)
            break
        if bridged is not None:
            self.show(f"接通 bridged: 您与客服 {bridged.base['To']} 通话中 talking")
            talk = parse_seconds(self.terminal.ask("talk_seconds", "通话多少秒 talk for how many seconds",
                                                   "60"), 60)
            self.advance(talk)
            duration = round((self.now - bridged.answered_at).total_seconds())
            self.show(f"客服挂机 staff hangs up after {talk:g} s")
            await self.leg_event(bridged, "completed", "completed", self.now, url,
                                 CallDuration=duration)
            result = {"DialCallStatus": "completed", "DialCallSid": bridged.sid,
                      "DialCallDuration": duration, "DialBridged": "true"}
        else:
            end = deadline if hangup_at is None else min(hangup_at, deadline)
            if hangup_at is not None and hangup_at <= deadline and any(
                    leg.final is None for leg in legs):
                self.now = max(self.now, hangup_at)
                self.show(f"响铃 {(hangup_at - ringing).total_seconds():g} 秒, 主叫挂机 "
                          "caller hangs up while it rings")
                self.hung_up = True
                for leg in legs:
                    if leg.final is None:
                        await self.leg_event(leg, "completed", "canceled", self.now, url,
                                             CallDuration=0)
                dial_status = "canceled"
            else:
                unanswered = [leg for leg in legs if leg.final is None]
                if unanswered:
                    self.now = max(self.now, end)
                    self.show(f"{int(timeout)} 秒无人接听 no answer within the Dial timeout")
                for leg in unanswered:
                    await self.leg_event(leg, "completed", "no-answer", self.now, url,
                                         CallDuration=0)
                finals = {leg.final for leg in legs}
                if any(leg.answered_at for leg in legs):
                    dial_status = "completed"
                elif finals == {"busy"}:
                    dial_status = "busy"
                else:
                    dial_status = "no-answer"
            last = next((leg for leg in legs if leg.answered_at), legs[-1])
            result = {"DialCallStatus": dial_status, "DialCallSid": last.sid,
                      "DialCallDuration": 0, "DialBridged": "false"}
        if not action:
            return None  # no action: Twilio goes on with the next verb
        status = "completed" if self.hung_up else "in-progress"
        return self.absolute(action, url), self.params(status=status, **result), \
            verb.get("method", "POST")


# --------------------------------------------------------------------------- the record


def local_dates(start: datetime, end: datetime, tz) -> tuple[date, date]:
    return start.astimezone(tz).date(), end.astimezone(tz).date()


async def record_from_api(http, *, target: str, token: str, sid: str, start: datetime,
                          end: datetime, tz) -> dict | None:
    """The call as `/api/calls` shows it, with its tickets from `/api/tickets` if served."""
    first, last = local_dates(start - timedelta(days=1), end + timedelta(days=1), tz)
    query = f"from={first.isoformat()}&to={last.isoformat()}"
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{target}/api/calls?{query}", headers=headers) as resp:
        if resp.status != 200:
            raise SimulationError(f"/api/calls answered {resp.status}: {(await resp.text())[:200]}")
        calls = (await resp.json())["calls"]
    record = next((c for c in calls if c.get("sid") == sid), None)
    if record is None:
        return None
    record["tickets"] = []
    async with http.get(f"{target}/api/tickets?{query}", headers=headers) as resp:
        if resp.status == 200:
            tickets = (await resp.json()).get("tickets", [])
            record["tickets"] = [t for t in tickets if t.get("call_sid") == sid]
    return record


async def record_from_database(settings, sid: str) -> dict | None:
    """The same record read straight from `DATABASE_URL` (no API token needed)."""
    from sqlalchemy import select

    from ivr.calls.calllog import call_view
    from ivr.calls.records import legs_of
    from models import Call, Ticket
    from models.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            call = await session.scalar(select(Call).where(Call.sid == sid))
            if call is None:
                return None
            legs = await legs_of(session, call)
            tickets = list((await session.scalars(
                select(Ticket).where(Ticket.call_id == call.id).order_by(Ticket.id))).all())
            record = call_view(call, legs, [t.id for t in tickets], settings)
            record["tickets"] = [
                {"id": t.id, "number": t.number, "category": t.category, "status": t.status,
                 "description": t.description, "due_at": t.due_at.astimezone(settings.tz).isoformat(timespec="seconds")}
                for t in tickets
            ]
            return record
    finally:
        await engine.dispose()


def describe(record: dict, *, three_rings_seconds: float) -> list[str]:
    """The record as lines for the terminal: legs, ring times, rings, three rings, ticket."""
    lines = [
        "── 通话记录 call record ──",
        f"来电 {record.get('from')} → {record.get('to')}  CallSid {record.get('sid')}",
        f"开始 started {record.get('started_at')}  结束 ended {record.get('ended_at')}  "
        f"时长 {record.get('duration_seconds')} 秒",
        f"菜单 menu {record.get('menu_choice')}  结果 outcome {record.get('outcome')}"
        + (f"  等待 waited {record['waited_seconds']} 秒" if record.get("waited_seconds") else ""),
    ]
    if record.get("speech"):
        heard = record["speech"]
        lines.append(f"来电说 said “{heard['text']}” → {heard.get('choice') or '未听懂 not understood'}")
    legs = record.get("legs") or []
    if not legs:
        lines.append("转接 transfers: 无 none")
    for n, leg in enumerate(legs, 1):
        if leg.get("ring_seconds") is None:
            ring = "未接 not answered"
        else:
            ring = f"响铃 {leg['ring_seconds']} 秒 = {leg.get('rings')} 声 rings"
        answered = "人工接听 answered" if leg.get("answered") else "未接通 no person"
        within = ("三声以内 within three rings ✓" if leg.get("within_three_rings")
                  else f"未在三声({three_rings_seconds:g} 秒)内接听 ✗")
        lines.append(f"转接 {n}: {leg.get('staff') or '?'} {leg.get('phone')}  {ring}  "
                     f"{answered}  {within}  ({leg.get('status')})")
    tickets = record.get("tickets") or []
    if tickets:
        for t in tickets:
            lines.append(f"工单 ticket {t.get('number')}  {t.get('category')}  {t.get('status')}"
                         + (f"  {t['description']}" if t.get("description") else "")
                         + (f"  due {t['due_at']}" if t.get("due_at") else ""))
    elif record.get("ticket_ids"):
        lines.append(f"工单 tickets {record['ticket_ids']}")
    else:
        lines.append("工单 ticket: 无 none")
    return lines


async def simulate(*, settings, url: str, from_number: str, to_number: str | None = None,
                   token: str | None = None, terminal: Terminal | None = None,
                   start: datetime | None = None,
                   session_factory: Callable[[], Any] | None = None) -> dict | None:
    """One call against the server at `url`; prints it and returns the call's record."""
    import aiohttp

    terminal = terminal or ConsoleTerminal()
    target = url.rstrip("/")
    base = (settings.public_base_url or target).rstrip("/")
    if not settings.twilio_auth_token:
        terminal.show("(TWILIO_AUTH_TOKEN 未设置 not set: 签名只对开发模式服务器有效 "
                      "the signatures only pass a server in IVR_INSECURE_DEV mode)")
    factory = session_factory or (lambda: aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=15)))  # Twilio's own webhook limit
    async with factory() as http:
        twilio = Twilio(http, base=base, token=settings.twilio_auth_token, target=target)
        sim = Simulation(twilio=twilio, terminal=terminal, from_number=from_number,
                         to_number=to_number or settings.hotline_number or "+862161234567",
                         start=start or datetime.now(timezone.utc))
        try:
            await sim.run()
        except aiohttp.ClientError as exc:
            raise SimulationError(f"cannot reach the server at {target}: {exc}") from None
        if token:
            record = await record_from_api(http, target=target, token=token, sid=sim.sid,
                                           start=sim.start, end=sim.now, tz=settings.tz)
        else:
            record = await record_from_database(settings, sim.sid)
    if record is None:
        terminal.show(f"(通话记录未找到 no record of {sim.sid} found)")
        return None
    for line in describe(record, three_rings_seconds=settings.three_rings_seconds):
        terminal.show(line)
    return record


def run_command(args, settings) -> None:
    """`ivr simulate`: one call from the terminal against the server at `--url`."""
    import asyncio
    import os

    from ivr.platform.phones import InvalidPhone, normalise

    try:  # Twilio always sends E.164
        args.from_number = normalise(args.from_number)
        args.to_number = normalise(args.to_number) if args.to_number else None
    except InvalidPhone as exc:
        raise SimulationError(f"--from/--to: {exc}") from None
    url = args.url or f"http://127.0.0.1:{settings.port}"
    token = args.token or os.environ.get("IVR_API_TOKEN") or None
    asyncio.run(simulate(settings=settings, url=url, from_number=args.from_number,
                         to_number=args.to_number, token=token))
