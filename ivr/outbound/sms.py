"""SMS (短信): outage notices to residents (突发性停水/停电 must be notified by SMS) and
the notices other parts queue (escalations, the daily count).

Anyone queues an `SmsMessage` row (status `queued`); the sender, running beside the
dialer, takes it (`sending`, with `claimed_at`, in one transaction, so two senders never
send one message twice), sends it paced at `IVR_SMS_PER_SECOND`, and records the SID,
Twilio's status or the error. A message left `sending` by a crashed sender is looked up
on Twilio (same recipient, same body, a SID we do not know) before it is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.rest import Client

from ivr.outbound.pace import Pace
from ivr.platform import twilio_rest
from ivr.platform.clock import Clock
from ivr.platform.config import Settings
from ivr.platform.phones import mask
from models import Resident, SmsMessage

log = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's limit for one message body


class NoticeError(ValueError):
    """A notice that cannot be sent as asked (empty text, nobody matched)."""


async def enqueue_notice(session: AsyncSession, *, body: str, now: datetime,
                         address_prefix: str | None = None,
                         purpose: str = "outage_notice") -> list[SmsMessage]:
    """One queued SMS per resident whose address starts with `address_prefix` (every
    resident without one). Residents sharing a phone get it once."""
    text = (body or "").strip()
    if not text:
        raise NoticeError("the message is empty")
    if len(text) > MAX_BODY:
        raise NoticeError(f"the message is {len(text)} characters; at most {MAX_BODY}")
    query = select(Resident).order_by(Resident.id)
    if address_prefix:
        query = query.where(Resident.address.startswith(address_prefix, autoescape=True))
    residents = list((await session.scalars(query)).all())
    messages: list[SmsMessage] = []
    seen: set[str] = set()
    for resident in residents:
        if not resident.phone or resident.phone in seen:
            continue
        seen.add(resident.phone)
        message = SmsMessage(to=resident.phone, body=text, purpose=purpose,
                             resident_id=resident.id, status="queued", created_at=now)
        session.add(message)
        messages.append(message)
    await session.flush()
    return messages


def accepted(twilio_status) -> str:
    """Our status once Twilio has the message: `sent` (Twilio's own `queued`/`accepted`
    must not read as our `queued`, which means not yet handed over)."""
    return "failed" if str(twilio_status or "") in ("failed", "undelivered") else "sent"


@dataclass
class Taken:
    id: int
    to: str
    body: str


async def claim(session: AsyncSession, *, now: datetime, limit: int,
                ids: list[int] | None = None) -> list[Taken]:
    query = (select(SmsMessage).where(SmsMessage.status == "queued")
             .order_by(SmsMessage.id).limit(limit))
    if ids is not None:
        query = query.where(SmsMessage.id.in_(ids))
    if (await session.connection()).dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.scalars(query)).all())
    for message in rows:
        message.status, message.claimed_at = "sending", now
    return [Taken(m.id, m.to, m.body) for m in rows]


@dataclass
class Sender:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    clock: Clock
    pacer: Pace | None = None
    sent: int = field(default=0)

    def __post_init__(self) -> None:
        self.pacer = self.pacer or Pace(self.sessions, name="messages",
                                        rate=self.settings.sms_per_second)

    @property
    def batch(self) -> int:
        return max(1, math.ceil(self.settings.sms_per_second))

    async def send(self, taken: Taken) -> None:
        settings = self.settings
        delay = settings.dialer_backoff_seconds
        await self.pacer.wait()
        for _try in range(settings.dialer_rest_tries):
            try:
                message = await twilio_rest.with_timeout(self.client.messages.create_async(
                    to=taken.to, from_=settings.hotline_number, body=taken.body), settings)
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                failure = twilio_rest.classify(exc)
                error = twilio_rest.describe(exc)
                log.warning("sms %s to %s: %s (%s)", taken.id, mask(taken.to), error, failure)
                if failure == "permanent":
                    await self.finish(taken.id, status="failed", error=error)
                    return
                if failure == "ambiguous":
                    await asyncio.sleep(delay)  # let a create still in Twilio's hands land
                    found = await self.look_up(taken)
                    if found is not False:
                        return
                else:
                    await self.pacer.back_off(delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                await self.pacer.wait()
                continue
            self.sent += 1
            await self.finish(taken.id, status=accepted(message.status), sid=message.sid)
            return
        await self.finish(taken.id, status="queued", error="Twilio REST unavailable; will retry")

    async def finish(self, message_id: int, *, status: str, sid: str | None = None,
                     error: str | None = None) -> None:
        async with self.sessions() as session, session.begin():
            message = await session.get(SmsMessage, message_id)
            if message.sid is None and sid:
                message.sid = sid
            message.status = status
            message.error = error
            if sid:
                message.sent_at = self.clock()

    async def look_up(self, taken: Taken) -> bool | None:
        """Did Twilio take this message after all? True: adopted. False: no (it may be
        sent). None: Twilio cannot be asked now (leave it `sending` for later)."""
        try:
            listed = await twilio_rest.with_timeout(self.client.messages.list_async(
                to=taken.to, from_=self.settings.hotline_number, limit=50), self.settings)
        except Exception as exc:  # noqa: BLE001
            log.warning("sms: cannot look up messages to %s: %s", mask(taken.to),
                        twilio_rest.describe(exc))
            return None
        async with self.sessions() as session:
            candidates = [m for m in listed if m.body == taken.body]
            sids = [m.sid for m in candidates]
            known = set((await session.scalars(select(SmsMessage.sid).where(
                SmsMessage.sid.in_(sids)))).all()) if sids else set()
        unknown = [m for m in candidates if m.sid not in known]
        if unknown:
            await self.finish(taken.id, status=accepted(unknown[0].status), sid=unknown[0].sid)
            return True
        return False

    async def recover(self, *, now: datetime) -> int:
        """Messages a crashed sender left `sending`: adopt what Twilio has, requeue the rest."""
        cutoff = now - timedelta(seconds=self.settings.dialer_reconcile_after_seconds)
        async with self.sessions() as session:
            rows = list((await session.scalars(select(SmsMessage).where(
                SmsMessage.status == "sending", SmsMessage.sid.is_(None),
                SmsMessage.claimed_at <= cutoff).limit(100))).all())
        for row in rows:
            found = await self.look_up(Taken(row.id, row.to, row.body))
            if found is False:
                await self.finish(row.id, status="queued")
        return len(rows)

    async def run_once(self, *, now: datetime | None = None, ids: list[int] | None = None) -> int:
        now = now or self.clock()
        await self.recover(now=now)
        async with self.sessions() as session, session.begin():
            taken = await claim(session, now=now, limit=self.batch, ids=ids)
        await asyncio.gather(*(self.send(t) for t in taken))
        return len(taken)

    async def run(self, stop: asyncio.Event) -> None:
        poll = self.settings.dialer_poll_seconds
        while not stop.is_set():
            sent = 0
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sms sender pass failed; next pass in %ss", poll)
            if not sent:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=poll)
                except asyncio.TimeoutError:
                    pass


async def summary(session: AsyncSession, ids: list[int]) -> dict:
    """What became of these messages: counts by status and the failures, listed."""
    rows = list((await session.scalars(select(SmsMessage).where(SmsMessage.id.in_(ids))
                                        .order_by(SmsMessage.id))).all()) if ids else []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    failed = [{"to": r.to, "error": r.error} for r in rows if r.status == "failed"]
    return {"total": len(rows), "by_status": counts, "failed": failed}


async def queued_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(SmsMessage)
                                    .where(SmsMessage.status == "queued")) or 0)
