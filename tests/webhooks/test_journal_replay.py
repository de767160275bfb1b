"""The journal: webhooks answered while the database was away reach it afterwards.

`tests/test_database_outage.py` stops a real PostgreSQL server; this replays a journal
on whichever database the suite runs on, through the same writer as live webhooks.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.platform.journal import Entry
from ivr.platform.resources import JOURNAL
from models import Call, CallEvent
from webhooks.resilience import catch_up


async def test_webhooks_journaled_while_the_database_was_away_are_replayed_in_order(
        client, sessions, clock, settings):
    app = client.server.app
    sid = "CA" + "7" * 32
    form = {"CallSid": sid, "From": "+8613900000001", "To": "+862161234567",
            "CallStatus": "in-progress", "Direction": "inbound"}
    arrived = clock()
    for n, (path, extra) in enumerate((("/twilio/voice", {}), ("/twilio/menu", {"Digits": "7"}))):
        await app[JOURNAL].append(Entry(path=path, query={}, form={**form, **extra},
                                        token=f"idem:replay-{n}",
                                        received_at=(arrived + timedelta(seconds=5 * n)).isoformat()))
    assert await catch_up(app) == 2
    assert await catch_up(app) == 0  # replayed once
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == sid))
        events = (await session.scalars(select(CallEvent).where(CallEvent.call_sid == sid)
                                        .order_by(CallEvent.id))).all()
    assert call is not None
    assert [e.kind for e in events] == ["voice", "menu"]
    assert [e.received_at for e in events] == [arrived, arrived + timedelta(seconds=5)]
    assert "您好" in events[0].response  # the greeting the caller would have heard


async def test_a_connection_lost_mid_entry_is_an_outage_however_often_the_database_flaps(
        client, sessions, clock, monkeypatch):
    """The database comes back, takes the replay, and drops the connection in the middle
    of an entry, pass after pass. The entry is not to blame: it stays in the journal (it
    went to the dead letters after five such flaps) and lands once the database holds."""
    import webhooks.twiml
    from ivr.platform.journal import MAX_TRIES

    app = client.server.app
    sid = "CA" + "8" * 32
    await app[JOURNAL].append(Entry(
        path="/twilio/voice", query={}, token="idem:flap",
        form={"CallSid": sid, "From": "+8613900000001", "To": "+862161234567",
              "CallStatus": "ringing", "Direction": "inbound"},
        received_at=clock().isoformat()))

    async def connection_lost(*args, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(webhooks.twiml, "run_step", connection_lost)
    for _ in range(MAX_TRIES + 1):
        assert await catch_up(app) == 0
    monkeypatch.undo()
    assert app[JOURNAL].pending() == 1 and app[JOURNAL].dead_letters() == 0
    assert await catch_up(app) == 1
    assert await catch_up(app) == 0
    async with sessions() as session:
        kinds = (await session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == sid))).all()
    assert kinds == ["voice"]
