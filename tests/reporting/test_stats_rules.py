"""The figures' own rules: what counts as answered, within three rings, and in the average."""

from __future__ import annotations

from datetime import timedelta

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
