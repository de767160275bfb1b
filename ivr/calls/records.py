"""Call records: one row per CallSid, every webhook and callback kept as an event.

Twilio retries webhooks and repeats callbacks; both are normal. An event with a key we
have already stored changes nothing, and a retried webhook gets its first answer again.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.clock import parse_int, parse_twilio_timestamp
from ivr.platform.phones import as_stored
from models import Call, CallEvent, Leg, Resident, rollup
from models.db import insert_for

log = logging.getLogger(__name__)

TERMINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def form_dict(form: Mapping[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in form.items()}


async def find_call(session: AsyncSession, sid: str, *, lock: bool = False) -> Call | None:
    """`lock`: hold the row until commit (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    serializes writers), so two webhooks of one call never overwrite each other."""
    query = select(Call).where(Call.sid == sid)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return await session.scalar(query)


def _call_values(form: Mapping[str, str], now: datetime) -> dict:
    """A new call's columns, from the first webhook Twilio sent for it."""
    direction = "inbound" if (form.get("Direction") or "inbound") == "inbound" else "outbound"
    from_number = as_stored(form.get("From"))
    return dict(
        sid=form["CallSid"],
        direction=direction,
        from_number=from_number,
        to_number=as_stored(form.get("To")),
        started_at=now,
        # Heard of first through a staff phone's callback: the caller is on the line.
        status=form.get("CallStatus") or "in-progress",
    )


def _resident_of(values: dict):
    """The caller's resident id, as a subquery (none for an outbound or unknown number)."""
    if values["direction"] != "inbound" or not values["from_number"]:
        return None
    return select(Resident.id).where(Resident.phone == values["from_number"]).scalar_subquery()


async def get_or_create_call(session: AsyncSession, *, form: Mapping[str, str],
                             now: datetime) -> Call:
    """The call row for this CallSid, created on first sight (whatever webhook that is)."""
    call = await find_call(session, form["CallSid"], lock=True)
    if call is not None:
        return call
    return await create_or_get_call(session, form=form, now=now)


async def create_or_get_call(session: AsyncSession, *, form: Mapping[str, str],
                             now: datetime) -> Call:
    """The greeting's way round: the call is nearly always new, so insert it first (the
    caller's resident found in the same statement) and look it up only when another
    webhook made it already. One statement where a lookup, a savepoint and an insert
    took five."""
    values = _call_values(form, now)
    insert = insert_for(session.bind.dialect.name)
    statement = (insert(Call).values(**values, resident_id=_resident_of(values))
                 .on_conflict_do_nothing(index_elements=["sid"]).returning(Call))
    call = (await session.scalars(statement)).first()
    # A webhook replayed from the journal may date a new call on a closed day.
    await rollup.drop_days(session, since=values["started_at"])
    if call is None:  # the row was there (another webhook, and it has committed)
        call = await find_call(session, values["sid"], lock=True)
        assert call is not None
    return call


async def stored_response(session: AsyncSession, dedupe_key: str | None) -> str | None:
    """The answer first given for this key ("" when it was none), or None for a new key."""
    if not dedupe_key:
        return None
    row = (await session.execute(
        select(CallEvent.response).where(CallEvent.dedupe_key == dedupe_key))).first()
    return None if row is None else (row.response or "")


@functools.cache
def _insert_event(dialect: str):
    """Built once: one statement per webhook, where a savepoint around an ORM insert took
    three round trips, and constructing the statement each time cost more than running it."""
    return insert_for(dialect)(CallEvent.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])


async def record_event(session: AsyncSession, *, call_sid: str, kind: str,
                       form: Mapping[str, str], now: datetime,
                       dedupe_key: str | None = None, response: str | None = None) -> bool:
    """Store one webhook or callback. False if an event with this key was already stored."""
    values = dict(
        call_sid=call_sid,
        kind=kind,
        dedupe_key=dedupe_key,
        twilio_timestamp=parse_twilio_timestamp(form.get("Timestamp")),
        sequence_number=parse_int(form.get("SequenceNumber")),
        received_at=now,
        params=form_dict(form),
        response=response,
    )
    # On the session's connection: the ORM's execute adds nothing to a Core insert but cost.
    connection = await session.connection()
    result = await connection.execute(_insert_event(connection.dialect.name), values)
    return result.rowcount == 1


def is_newer(sequence: int | None, current: int | None) -> bool:
    if sequence is None:
        return current is None
    return current is None or sequence > current


async def legs_of(session: AsyncSession, call: Call) -> list[Leg]:
    return list((await session.scalars(
        select(Leg).where(Leg.call_id == call.id).order_by(Leg.id)
    )).all())


def apply_call_status(call: Call, *, form: Mapping[str, str], now: datetime) -> bool:
    """Apply a call-level status callback. True when this callback ended the call."""
    status = form.get("CallStatus") or ""
    sequence = parse_int(form.get("SequenceNumber"))
    stamp = parse_twilio_timestamp(form.get("Timestamp"))
    already_ended = call.ended_at is not None
    if status in TERMINAL_STATUSES:
        if already_ended:
            return False
        call.status = status
        call.status_sequence = sequence
        call.ended_at = stamp or now
        duration = parse_int(form.get("CallDuration"))
        if duration is not None:
            call.duration_seconds = duration
            call.started_at = call.ended_at - timedelta(seconds=duration)
        return True
    if not already_ended and status and is_newer(sequence, call.status_sequence):
        call.status = status
        call.status_sequence = sequence
    return False
