"""The figures' own rules: what counts as answered, within three rings, and in the average."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr.people.users import add_user, create_token
from ivr.reporting import rollups
from ivr.reporting.stats import call_answer_stats, headline
from models import Call, Leg
from tests.conftest import local

T0 = local(2026, 11, 23, 9, 0)


async def test_ring_time_counts_only_a_person_answering_and_three_rings_include_the_third(
        sessions, settings):
    assert settings.three_rings_seconds == 15
    async with sessions() as session, session.begin():
        call = Call(sid="CA1", from_number="+8613900000001", started_at=T0)
        session.add(call)
        await session.flush()
        legs = [  # (staff, ring seconds, a person accepted)
            ("王小明", 5, True),
            ("李娜", 15, True),      # exactly three rings: within
            ("赵师傅", 16, True),    # a second later: not within
            ("陈静", 20, False),     # the phone's own voicemail answered after 20 s
        ]
        for n, (name, ring, accepted) in enumerate(legs, 1):
            session.add(Leg(call_id=call.id, staff_name=name, phone=f"+861380001000{n}", attempt=n,
                            created_at=T0 + timedelta(seconds=n), ring_seconds=ring,
                            accepted=accepted, bridged=accepted))
    async with sessions() as session:
        stats = await call_answer_stats(session, settings=settings, start=T0,
                                        end=T0 + timedelta(hours=1))
    assert stats["transfers_offered"] == 4 and stats["transfers_answered"] == 3
    assert stats["answered_within_three_rings"] == 2
    assert stats["three_ring_rate"] == 0.5
    assert stats["average_ring_seconds"] == 12.0  # (5 + 15 + 16) / 3: the voicemail is no answer
    by_name = {row["staff"]: row for row in stats["per_staff"]}
    assert by_name["陈静"]["answered"] == 0 and by_name["陈静"]["average_ring_seconds"] is None
    assert (by_name["陈静"]["calls_handled"], by_name["陈静"]["talk_seconds"]) == (0, 0)
    assert by_name["李娜"]["within_three_rings"] == 1


async def test_the_wallboard_headline_counts_a_call_at_the_periods_end_in_the_next(
        sessions, settings):
    """[start, end): a call abandoned on the hour is the next hour's, never counted twice."""
    end = T0 + timedelta(hours=1)
    async with sessions() as session, session.begin():
        for n, at in enumerate((T0, end), 1):
            call = Call(sid=f"CA{n}", from_number=f"+861390000000{n}", started_at=at,
                        outcome="abandoned")
            session.add(call)
            await session.flush()
            session.add(Leg(call_id=call.id, staff_name="王小明", phone="+8613800010001",
                            attempt=1, created_at=at, ring_seconds=20 * (n - 1),
                            accepted=True, bridged=True))
    async with sessions() as session:
        this_hour = await headline(session, settings=settings, start=T0, end=end)
        next_hour = await headline(session, settings=settings, start=end,
                                   end=end + timedelta(hours=1))
    assert (this_hour["abandoned_calls"], next_hour["abandoned_calls"]) == (1, 1)
    assert (this_hour["three_ring_rate"], next_hour["three_ring_rate"]) == (1.0, 0.0)


# ---- Through `/api/stats`, as a supervisor's report reads them ----------------------

MIDNIGHT = local(2026, 11, 23, 0, 0)  # the 22nd's end and the 23rd's start (Shanghai)


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def report(client, token, day: str) -> dict:
    resp = await client.get(f"/api/stats?from={day}&to={day}",
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def add_call(sessions, *, sid: str, started_at, outcome: str | None = None,
                   rings: tuple[int, ...] = (), at=None) -> None:
    """A resident's call, and a leg to 王小明 answered after each of `rings` seconds,
    created at `at`."""
    async with sessions() as session, session.begin():
        call = Call(sid=sid, from_number="+8613900000001", started_at=started_at,
                    outcome=outcome)
        session.add(call)
        await session.flush()
        for n, ring in enumerate(rings, 1):
            session.add(Leg(call_id=call.id, staff_name="王小明", phone="+8613800000001",
                            attempt=n, created_at=at or started_at, ring_seconds=ring,
                            accepted=True, bridged=True))


async def test_a_leg_or_an_abandoned_call_at_midnight_counts_for_the_new_day(
        client, sessions, token, monkeypatch):
    """The period is [start, end): what happens at 00:00:00 is the next day's, whether the
    closed day is read from its rollup or from the rows."""
    await add_call(sessions, sid="CA-late", started_at=MIDNIGHT - timedelta(seconds=10),
                   rings=(5,), at=MIDNIGHT)
    await add_call(sessions, sid="CA-gone", started_at=MIDNIGHT, outcome="abandoned")
    for rolled_up in (True, False):
        with monkeypatch.context() as patched:
            if not rolled_up:
                patched.setattr(rollups, "closed_days", lambda **_: [])
            before = await report(client, token, "2026-11-22")
        assert (before["transfers_offered"], before["abandoned_calls"]) == (0, 0), rolled_up
        assert before["average_ring_seconds"] is None
    today = await report(client, token, "2026-11-23")
    assert (today["transfers_offered"], today["abandoned_calls"]) == (1, 1)


async def test_the_average_ring_time_is_shown_to_the_hundredth_of_a_second(
        client, sessions, token):
    await add_call(sessions, sid="CA-1", started_at=T0, rings=(5, 6, 6))
    stats = await report(client, token, "2026-11-23")
    assert stats["average_ring_seconds"] == 5.67  # 17 / 3
    [wang] = stats["per_staff"]
    assert wang["average_ring_seconds"] == 5.67


async def test_someone_signed_in_but_never_rung_is_listed_with_no_ring_average(
        client, seed, token):
    await seed.staff([("李华", "13800000002", "客服部", "07:00-21:00")])
    [li] = (await report(client, token, "2026-11-23"))["per_staff"]
    assert li["staff"] == "李华" and (li["offered"], li["answered"], li["calls_handled"]) == (0, 0, 0)
    assert li["average_ring_seconds"] is None
