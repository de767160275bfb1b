"""The dispatcher: when someone becomes free, the longest-waiting caller rings them.

Runs in every server process (cleanup_ctx). Each pass, every `IVR_QUEUE_POLL_SECONDS`,
gives free people to waiting callers under the switchboard lock (`queue.offer_free_staff`:
the leg is created and the caller leaves the line in one commit, so several processes on
one database never ring one person twice nor one caller twice), then redirects each
caller's live call with Twilio's REST API to `/twilio/queue-connect?leg=N`, which rings
that person. A person is free again when their wrap-up ends or they sign in: nothing
announces that, so the pass looks; half a second apart keeps it well within 2 s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ivr.calls import queue
from ivr.platform import twilio_rest
from ivr.platform.clock import Clock
from ivr.platform.config import Settings
from models.writer import Writer

log = logging.getLogger(__name__)

CALL_NOT_IN_PROGRESS = 21220  # Twilio: the call has ended, it cannot be redirected


async def claim(writer: Writer, *, settings: Settings, clock: Clock) -> list[queue.Offer]:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[queue.Offer]:
        async with sessions() as session, session.begin():
            return await queue.offer_free_staff(session, settings=settings, now=clock())

    return await writer.run(work)


async def time_out(writer: Writer, *, settings: Settings, clock: Clock) -> list[str]:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
        async with sessions() as session, session.begin():
            return await queue.time_out(session, settings=settings, now=clock())

    return await writer.run(work)


async def withdraw(writer: Writer, *, offer: queue.Offer, clock: Clock, call_ended: bool) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await queue.withdraw(session, offer=offer, now=clock(), call_ended=call_ended)

    await writer.run(work)


async def redirect(client: Client, writer: Writer, *, settings: Settings, clock: Clock,
                   offer: queue.Offer) -> None:
    """Send the caller to the person; on a refusal put them back in line (or, if their
    call has ended, cancel the leg). A timeout or 5xx may have redirected them: then the
    caller's own wait loop takes the offer up if no redirect came."""
    url = settings.public_url(f"/twilio/queue-connect?leg={offer.leg_id}")
    try:
        await twilio_rest.with_timeout(
            client.calls(offer.call_sid).update_async(url=url, method="POST"), settings)
    except Exception as exc:  # noqa: BLE001 - every failure is classified below
        log.warning("queue: redirect of call %s failed: %s", offer.call_sid,
                    twilio_rest.describe(exc))
        if twilio_rest.classify(exc) == "ambiguous":
            return
        ended = isinstance(exc, TwilioRestException) and (
            exc.status == 404 or exc.code == CALL_NOT_IN_PROGRESS)
        await withdraw(writer, offer=offer, clock=clock, call_ended=ended)


async def run_once(*, writer: Writer, reader: async_sessionmaker[AsyncSession], client: Client,
                   settings: Settings, clock: Clock) -> list[queue.Offer]:
    """One pass: the offers made (each redirected, or withdrawn if Twilio refused)."""
    async with reader() as session:
        if not await queue.anyone_waiting(session):
            return []
    offers = await claim(writer, settings=settings, clock=clock)
    overdue = await time_out(writer, settings=settings, clock=clock)
    await asyncio.gather(*(redirect(client, writer, settings=settings, clock=clock, offer=offer)
                           for offer in offers),
                         *(to_message(client, settings=settings, call_sid=sid) for sid in overdue))
    return offers


async def to_message(client: Client, *, settings: Settings, call_sid: str) -> None:
    """A caller past `IVR_QUEUE_MAX_SECONDS` is sent to their wait loop, which offers the
    message at once. If the redirect fails, their own next turn does it."""
    try:
        await twilio_rest.with_timeout(client.calls(call_sid).update_async(
            url=settings.public_url("/twilio/queue-wait"), method="POST"), settings)
    except Exception as exc:  # noqa: BLE001 - the wait loop's next turn is the fallback
        log.warning("queue: redirect of call %s to a message failed: %s", call_sid,
                    twilio_rest.describe(exc))


async def run(stop: asyncio.Event, *, writer: Writer, reader: async_sessionmaker[AsyncSession],
              client: Client, settings: Settings, clock: Clock,
              on_pass: Callable[[list[queue.Offer]], None] | None = None) -> None:
    while not stop.is_set():
        try:
            offers = await run_once(writer=writer, reader=reader, client=client,
                                    settings=settings, clock=clock)
            if on_pass is not None:
                on_pass(offers)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("queue dispatcher pass failed")
        try:
            await asyncio.wait_for(stop.wait(), settings.queue_poll_seconds)
        except asyncio.TimeoutError:
            pass


async def background(app: web.Application):
    """cleanup_ctx of `ivr serve`: the dispatcher beside the web server."""
    from ivr.platform.resources import CLOCK, READER, SETTINGS, TWILIO, WRITER

    settings = app[SETTINGS]
    missing = twilio_rest.missing_settings(settings)
    if missing:  # the wait loop still puts callers through, at its own turns
        log.warning("queue dispatcher not started: %s not set", ", ".join(missing))
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop, writer=app[WRITER], reader=app[READER],
                                   client=app[TWILIO], settings=settings, clock=app[CLOCK]),
                               name="queue-dispatcher")
    yield
    stop.set()
    await asyncio.gather(task, return_exceptions=True)
