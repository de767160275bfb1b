"""A fake Twilio REST API on loopback, reached through `TWILIO_API_BASE_URL`.

It answers `Calls.json` and `Messages.json` the way api.twilio.com does (JSON shapes,
HTTP Basic auth, Twilio error bodies), records every request with the moment it arrived,
and can be told to fail: 429, 500, an invalid number (400, error 21211), or a response
that never comes (a timeout), with or without the call having been created first.

Also `OutboundCall`: plays Twilio's part for one call the dialer placed (the `Url`
webhook on answer, call-progress events to the `StatusCallback`), signed like Twilio.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

from aiohttp import BasicAuth, web

from tests.twilio_client import AUTH_TOKEN, HOTLINE, Twilio, rfc2822

ACCOUNT_SID = "AC" + "0" * 32
API = "/2010-04-01/Accounts/{account}"

_sids = itertools.count(1)
FORM = web.RequestKey("form", dict)


def _sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032x}"


def _now_rfc() -> str:
    return format_datetime(datetime.now(timezone.utc))


@dataclass
class Recorded:
    method: str
    path: str
    form: dict
    query: dict
    at: float  # time.monotonic() when the request arrived
    status: int = 0
    lists: dict = field(default_factory=dict)  # every value of a repeated field


@dataclass
class Fault:
    status: int = 500
    code: int | None = None
    message: str = "Internal Server Error"
    delay: float = 0.0        # seconds before answering (longer than the client waits = timeout)
    create_first: bool = False  # create the resource, then fail or hang (an ambiguous outcome)


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[Recorded] = field(default_factory=list)
    calls: dict[str, dict] = field(default_factory=dict)
    messages: dict[str, dict] = field(default_factory=dict)
    invalid_numbers: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""
    record: bool = True
    # Calls updated (`calls(sid).update(url=…)`), in order: (sid, form).
    updates: list[tuple[str, dict]] = field(default_factory=list)
    updated: asyncio.Event = field(default_factory=asyncio.Event)
    _created: asyncio.Event = field(default_factory=asyncio.Event)
    _received: asyncio.Event = field(default_factory=asyncio.Event)

    # --- control ---
    def fail_next(self, count: int = 1, **fault) -> None:
        """The next `count` create requests get this fault (see `Fault`)."""
        self.faults.extend(Fault(**fault) for _ in range(count))

    def creates(self, kind: str = "Calls") -> list[Recorded]:
        return [r for r in self.requests
                if r.method == "POST" and r.path.endswith(f"/{kind}.json")]

    def live_call(self, sid: str, *, to: str = HOTLINE, from_: str = "") -> None:
        """An inbound call in progress, as Twilio knows it: it can be redirected."""
        self.calls[sid] = {"sid": sid, "account_sid": self.account_sid, "to": to, "from": from_,
                           "status": "in-progress", "direction": "inbound",
                           "uri": API.format(account=self.account_sid) + f"/Calls/{sid}.json",
                           "_request": {}}

    def end_call(self, sid: str) -> None:
        """The caller hung up: the call can no longer be redirected (error 21220)."""
        if sid in self.calls:
            self.calls[sid]["status"] = "completed"

    async def next_update(self, timeout: float) -> tuple[str, dict]:
        """Wait (at most `timeout` s) for the next call update not yet taken."""
        taken = getattr(self, "_taken", 0)
        while len(self.updates) <= taken:
            self.updated.clear()
            await asyncio.wait_for(self.updated.wait(), timeout)
        self._taken = taken + 1
        return self.updates[taken]

    async def wait_for_request(self, path_end: str, timeout: float = 5) -> Recorded:
        """Until a request whose path ends so has arrived (answered or not yet)."""
        async def arrived() -> Recorded:
            while not (found := [r for r in self.requests if r.path.endswith(path_end)]):
                self._received.clear()
                await self._received.wait()
            return found[0]
        return await asyncio.wait_for(arrived(), timeout)

    def created_calls(self, to: str | None = None) -> list[dict]:
        return [c for c in self.calls.values() if to is None or c["to"] == to]

    async def wait_for_call(self, to: str | None = None, *, count: int = 1,
                            timeout: float = 30) -> list[dict]:
        """Until `count` calls (to `to`) were created: woken by each create, not polled."""
        async def enough() -> list[dict]:
            while len(self.created_calls(to)) < count:
                self._created.clear()
                await self._created.wait()
            return self.created_calls(to)
        return await asyncio.wait_for(enough(), timeout)

    # --- HTTP ---
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        base = API.format(account="{account}")
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_get(base + "/Calls.json", self._list_calls)
        app.router.add_get(base + "/Calls/{sid}.json", self._fetch_call)
        app.router.add_post(base + "/Calls/{sid}.json", self._update_call)
        app.router.add_post(base + "/Messages.json", self._create_message)
        app.router.add_get(base + "/Messages.json", self._list_messages)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        posted = await request.post() if request.method == "POST" else {}
        entry = Recorded(request.method, request.path, {k: str(v) for k, v in posted.items()},
                         dict(request.query), time.monotonic(),
                         lists={k: [str(v) for v in posted.getall(k)] for k in set(posted)})
        if self.record:
            self.requests.append(entry)
            self._received.set()
        auth = request.headers.get("Authorization", "")
        try:
            creds = BasicAuth.decode(auth) if auth else None
        except ValueError:
            creds = None
        if (creds is None or creds.login != self.account_sid or creds.password != self.auth_token
                or request.match_info.get("account") != self.account_sid):
            entry.status = 401
            return self._error(401, 20003, "Authenticate")
        request[FORM] = entry.form
        response = await handler(request)
        entry.status = response.status
        return response

    def _error(self, status: int, code: int | None, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "status": status,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                                 status=status)

    async def _fault(self, create) -> web.Response | None:
        if not self.faults:
            return None
        fault = self.faults.pop(0)
        if fault.create_first:
            create()
        if fault.delay:  # cut short when the fake shuts down
            try:
                await asyncio.wait_for(self._closing.wait(), fault.delay)
            except asyncio.TimeoutError:
                pass
        return self._error(fault.status, fault.code, fault.message)

    async def _create_call(self, request: web.Request) -> web.Response:
        form = request[FORM]
        for name in ("To", "From"):
            if not form.get(name):
                return self._error(400, 21201 if name == "To" else 21213, f"No '{name}' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return self._error(400, 21205, "Url parameter is required")
        created: list[dict] = []

        def create() -> dict:
            sid = _sid("CA")
            stamp = _now_rfc()
            call = {
                "sid": sid, "account_sid": self.account_sid, "to": form["To"],
                "to_formatted": form["To"], "from": form["From"], "from_formatted": form["From"],
                "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
                "parent_call_sid": None, "answered_by": None, "caller_name": None,
                "date_created": stamp, "date_updated": stamp, "start_time": None,
                "end_time": None, "duration": None, "price": None, "price_unit": "USD",
                "queue_time": "0", "trunk_sid": None, "group_sid": None,
                "phone_number_sid": "PN" + "0" * 32, "forwarded_from": None, "annotation": None,
                "uri": API.format(account=self.account_sid) + f"/Calls/{sid}.json",
                "subresource_uris": {}, "_request": dict(form),
            }
            self.calls[sid] = call
            created.append(call)
            call["_created_at"] = time.monotonic()
            self._created.set()
            return call

        failed = await self._fault(create)
        if failed is not None:
            return failed
        if form["To"] in self.invalid_numbers:
            return self._error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        call = create()
        return web.json_response(_public(call), status=201)

    async def _list_calls(self, request: web.Request) -> web.Response:
        q = request.query
        rows = [c for c in self.calls.values()
                if (not q.get("To") or c["to"] == q["To"])
                and (not q.get("From") or c["from"] == q["From"])]
        rows.reverse()  # newest first, as Twilio lists them
        size = int(q.get("PageSize", 50))
        return web.json_response(_page("calls", [_public(c) for c in rows[:size]], request, size))

    async def _fetch_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.json_response(_public(call))

    async def _update_call(self, request: web.Request) -> web.Response:
        """A live call redirected to new TwiML (`Url`), as api.twilio.com does it."""
        sid = request.match_info["sid"]
        call = self.calls.get(sid)
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        form = request[FORM]
        failed = await self._fault(lambda: None)
        if failed is not None:
            return failed
        if form.get("Url") and call["status"] not in ("queued", "ringing", "in-progress"):
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        call["_request"] = {**call["_request"], **form}
        self.updates.append((sid, dict(form)))
        self.updated.set()
        return web.json_response(_public(call))

    async def _create_message(self, request: web.Request) -> web.Response:
        form = request[FORM]
        if not form.get("To"):
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")

        def create() -> dict:
            sid = _sid("SM")
            stamp = _now_rfc()
            message = {
                "sid": sid, "account_sid": self.account_sid, "to": form["To"],
                "from": form.get("From"), "body": form["Body"], "status": "queued",
                "num_segments": "1", "num_media": "0", "direction": "outbound-api",
                "api_version": "2010-04-01", "date_created": stamp, "date_updated": stamp,
                "date_sent": None, "error_code": None, "error_message": None, "price": None,
                "price_unit": "USD", "messaging_service_sid": None,
                "uri": API.format(account=self.account_sid) + f"/Messages/{sid}.json",
                "subresource_uris": {},
            }
            self.messages[sid] = message
            return message

        failed = await self._fault(create)
        if failed is not None:
            return failed
        if form["To"] in self.invalid_numbers:
            return self._error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        return web.json_response(create(), status=201)

    async def _list_messages(self, request: web.Request) -> web.Response:
        q = request.query
        rows = [m for m in self.messages.values()
                if (not q.get("To") or m["to"] == q["To"])
                and (not q.get("From") or m["from"] == q["From"])]
        rows.reverse()
        size = int(q.get("PageSize", 50))
        return web.json_response(_page("messages", rows[:size], request, size))

    # --- life ---
    async def __aenter__(self) -> "FakeTwilio":
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._closing.set()
        await self._runner.cleanup()


def _public(call: dict) -> dict:
    return {k: v for k, v in call.items() if not k.startswith("_")}


def _page(key: str, rows: list[dict], request: web.Request, size: int) -> dict:
    return {key: rows, "page": 0, "page_size": size, "start": 0, "end": max(0, len(rows) - 1),
            "uri": str(request.rel_url), "first_page_uri": str(request.rel_url),
            "next_page_uri": None, "previous_page_uri": None}


@dataclass
class OutboundCall:
    """One call the dialer placed, driven the way Twilio would drive it."""

    twilio: Twilio
    call: dict
    seq: int = 0

    @property
    def sid(self) -> str:
        return self.call["sid"]

    @property
    def request(self) -> dict:
        return self.call["_request"]

    def params(self, **extra) -> dict:
        base = {"CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.call["from"],
                "To": self.call["to"], "Direction": "outbound-api", "ApiVersion": "2010-04-01",
                "Called": self.call["to"], "Caller": self.call["from"]}
        base.update({k: str(v) for k, v in extra.items()})
        return base

    async def event(self, status: str, at: datetime, seq: int | None = None, **extra):
        if seq is None:
            self.seq += 1
            seq = self.seq
        return await self.twilio.follow(self.request["StatusCallback"], self.params(
            CallStatus=status, Timestamp=rfc2822(at), SequenceNumber=seq,
            CallbackSource="call-progress-events", **extra))

    async def answer(self, at: datetime, answered_by: str = "human"):
        """Ringing, answered, then Twilio fetches the call's TwiML (with AMD's verdict)."""
        await self.event("initiated", at)
        await self.event("ringing", at)
        await self.event("in-progress", at)
        return await self.twilio.follow(self.request["Url"], self.params(
            CallStatus="in-progress", AnsweredBy=answered_by))

    async def end(self, status: str, at: datetime, duration: int = 0):
        return await self.event(status, at, CallDuration=duration)


def outbound_calls(fake: FakeTwilio, twilio: Twilio, to: str | None = None) -> list[OutboundCall]:
    return [OutboundCall(twilio, c) for c in fake.created_calls(to)]


def hotline() -> str:
    return HOTLINE


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- fixtures (import them into a test module to use them) ------------------------------

import pytest  # noqa: E402

from ivr.app import create_app  # noqa: E402
from ivr.outbound.dialer import Dialer  # noqa: E402
from ivr.platform import twilio_rest  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402


@pytest.fixture
async def fake_twilio():
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def outbound_settings(settings, fake_twilio):
    """The test settings, on the fake API, with quick back-offs and a fast pace."""
    return settings.model_copy(update={
        "twilio_api_base_url": fake_twilio.url, "dialer_cps": 50,
        "dialer_backoff_seconds": 0.01, "dialer_rest_timeout_seconds": 2,
    })


@dataclass
class Outbound:
    """The server (signed webhooks), the fake API and dialers, on one database and clock."""

    settings: object
    fake: FakeTwilio
    twilio: Twilio
    sessions: object
    clock: object
    clients: list = field(default_factory=list)

    def dialer(self, sessions=None, **overrides) -> Dialer:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        client = twilio_rest.make_client(settings)
        self.clients.append(client)
        return Dialer(settings=settings, sessions=sessions or self.sessions, client=client,
                      clock=self.clock)

    def calls(self, to: str | None = None) -> list[OutboundCall]:
        return outbound_calls(self.fake, self.twilio, to)


@pytest.fixture
async def outbound(aiohttp_client, outbound_settings, fake_twilio, sessions, clock):
    client = await aiohttp_client(create_app(outbound_settings, clock=clock))
    state = Outbound(outbound_settings, fake_twilio, Twilio(client), sessions, clock)
    yield state
    for rest in state.clients:
        await twilio_rest.close(rest)


@pytest.fixture
async def second_sessions(outbound_settings):
    """A second engine on the same database: another dialer process."""
    engine = make_engine(outbound_settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()
