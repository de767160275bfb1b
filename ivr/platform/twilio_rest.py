"""Twilio's REST API: one async client per process, and what its failures mean.

The client is built inside the running event loop (`AsyncTwilioHttpClient` opens an
aiohttp session in its constructor) and closed at shutdown. Its base URL is
`TWILIO_API_BASE_URL`, so tests and the benchmark talk to a fake on loopback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from ivr.platform.config import Settings
from ivr.platform.resources import SETTINGS, TWILIO

log = logging.getLogger(__name__)

# Twilio error codes that no retry will fix: invalid or unreachable numbers, a number
# that opted out, a caller ID we may not use (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = {13223, 13224, 13225, 13226, 21211, 21212, 21214, 21215, 21216, 21217,
                   21401, 21407, 21408, 21421, 21601, 21602, 21604, 21610, 21612, 21614}

Failure = Literal["transient", "ambiguous", "permanent"]


def missing_settings(settings: Settings) -> list[str]:
    """What outbound calls and SMS need and is not set."""
    return [name for name, value in (("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                                     ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                                     ("HOTLINE_NUMBER", settings.hotline_number),
                                     ("PUBLIC_BASE_URL", settings.public_base_url)) if not value]


def make_client(settings: Settings) -> Client:
    """A client on `TWILIO_API_BASE_URL`. Call only inside a running event loop.

    `environment` is a non-empty dict of our own: twilio's `Client` falls back to
    `os.environ` for an empty one, and `TWILIO_EDGE`/`TWILIO_REGION` there would rewrite
    the host (`api.sydney.au1.twilio.com`) and break a local base URL.
    """
    http = AsyncTwilioHttpClient()
    environment = {"TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
                   "TWILIO_AUTH_TOKEN": settings.twilio_auth_token}
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                    http_client=http, environment=environment)
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


async def close(client: Client) -> None:
    await client.http_client.close()


async def rest_client(app: web.Application):
    """cleanup_ctx: `app[TWILIO]` for the life of the server."""
    if missing_settings(app[SETTINGS]):  # no dialling without credentials (dialer.background says so)
        yield
        return
    client = make_client(app[SETTINGS])
    app[TWILIO] = client
    yield
    await close(client)


def classify(exc: BaseException) -> Failure:
    """What a failed create means for retrying it.

    transient: Twilio certainly did not act (429, 401/403 bad credentials, or no
    connection was made): retry later, the job is not to blame.
    ambiguous: Twilio may have acted (5xx, a timeout, a connection cut after sending):
    look the call up before retrying, so it is never placed twice.
    permanent: a 4xx that will never succeed (an invalid number): record it, stop.
    """
    if isinstance(exc, TwilioRestException):
        if exc.status in (401, 403, 429):  # rate, or our credentials: no call's fault
            return "transient"
        if exc.status >= 500:
            return "ambiguous"
        return "permanent"
    if isinstance(exc, (aiohttp.ClientConnectorError, ConnectionRefusedError)):
        return "transient"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ClientError, OSError)):
        return "ambiguous"
    return "ambiguous"


def describe(exc: BaseException) -> str:
    if isinstance(exc, TwilioRestException):
        return f"HTTP {exc.status} error {exc.code}: {exc.msg}"[:500]
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"[:500]


def error_code(exc: BaseException) -> int | None:
    return exc.code if isinstance(exc, TwilioRestException) else None


async def with_timeout(awaitable, settings: Settings):
    """The client's own timeout is ignored (twilio-python issue #925): bound it here."""
    return await asyncio.wait_for(awaitable, timeout=settings.dialer_rest_timeout_seconds)
