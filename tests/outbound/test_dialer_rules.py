"""The dialer's finer rules Twilio notices: what it asks for when it checks a call it lost."""

from __future__ import annotations

from sqlalchemy import select, update

from ivr.outbound import jobs
from ivr.tickets import lifecycle
from models import Attempt, Call, OutboundJob, TicketHistory
from tests.fake_twilio import fake_twilio, outbound, outbound_settings  # noqa: F401
from tests.outbound.test_dialer import LI, WANG, all_jobs, attempts, start_campaign


async def test_a_lost_call_is_looked_up_in_one_page_of_the_newest_calls(outbound, seed):  # noqa: F811
    """A resident called for years has hundreds of calls at Twilio: the check after a crash
    reads the newest page only, never the whole history (slow, past the REST timeout)."""
    await seed.residents([LI])
    await start_campaign(outbound)
    crashed = outbound.dialer()
    await crashed.claim_batch(now=outbound.clock())  # intent written, then the process died
    outbound.clock.advance(10 * 60)
    await outbound.dialer().run_until_idle()
    lookups = [r for r in outbound.fake.requests
               if r.method == "GET" and r.path.endswith("/Calls.json")]
    assert lookups and all(r.query.get("To") == "+8613900000001" for r in lookups)
    assert all(r.query.get("PageSize") == "50" for r in lookups)


async def queue_escalation(outbound, **fields) -> None:
    async with outbound.sessions() as session, session.begin():
        await jobs.queue_job(session, kind="escalation", phone="+8613900000009",
                             now=outbound.clock(), **fields)


async def test_a_job_is_still_dialled_at_its_last_allowed_moment(outbound):  # noqa: F811
    """`not_after` is the last moment a call may start: at that very moment it is placed,
    only after it is the job expired."""
    await queue_escalation(outbound, not_after=outbound.clock())
    assert await outbound.dialer().run_once() == 1
    assert len(outbound.fake.creates()) == 1
    [job] = await all_jobs(outbound)
    assert job.outcome != "expired"


async def test_twilio_is_asked_for_post_callbacks_and_plain_amd_off_reminders(outbound):  # noqa: F811
    """Twilio's enumerations are case-sensitive as documented: `POST`, `Enable`. An
    escalation only needs to know a person answered (`Enable`), not wait for the beep."""
    await queue_escalation(outbound)
    assert await outbound.dialer().run_once() == 1
    [create] = outbound.fake.creates()
    assert create.form["Method"] == "POST"
    assert create.form["StatusCallbackMethod"] == "POST"
    assert create.form["MachineDetection"] == "Enable"


async def test_a_reminder_retried_records_which_dialer_claimed_it(outbound, seed):  # noqa: F811
    """A retry goes through the one-by-one claim: the job still names its dialer, so an
    operator can tell which process holds it."""
    await seed.residents([LI])
    await start_campaign(outbound)
    async with outbound.sessions() as session, session.begin():
        await session.execute(update(OutboundJob).values(attempts=1))  # tried before
    dialer = outbound.dialer()
    [claimed] = await dialer.claim_batch(now=outbound.clock())
    [job] = await all_jobs(outbound)
    assert job.id == claimed.job_id and job.state == "dialing"
    assert job.claimed_by == dialer.name


async def test_twilio_unavailable_gives_the_job_back_for_later_not_the_past(outbound):  # noqa: F811
    """Every REST try refused (429): the attempt never reached Twilio, so it is void and
    the job is queued again, due a little later, never already overdue."""
    await queue_escalation(outbound)
    outbound.fake.fail_next(2, status=429, code=20429, message="Too Many Requests")
    assert await outbound.dialer(dialer_rest_tries=2).run_once() == 1
    assert outbound.fake.calls == {}
    [attempt] = await attempts(outbound)
    assert attempt.state == "void" and attempt.call_sid is None
    [job] = await all_jobs(outbound)
    assert job.state == "queued"
    assert job.next_attempt_at > job.updated_at  # later than the moment it was given back


async def test_lost_calls_are_all_settled_when_one_lookup_fails(outbound, seed):  # noqa: F811
    """A lost call Twilio cannot find (404) must not stop the others being settled."""
    await seed.residents([LI, WANG])
    await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_until_idle()
    first, second = await attempts(outbound)
    del outbound.fake.calls[first.call_sid]               # the lookup of the first fails
    outbound.fake.calls[second.call_sid]["status"] = "no-answer"
    outbound.clock.advance(outbound.settings.dialer_stale_call_minutes * 60 + 60)
    await dialer.reconcile(now=outbound.clock())
    first, second = await attempts(outbound)
    assert first.state == "placed"
    assert second.state == "done" and second.result == "no-answer"


async def test_a_call_found_after_a_crash_is_shown_as_twilio_has_it(outbound, seed):  # noqa: F811
    """The dialer died between Twilio creating the call and writing its SID. The call found
    in Twilio's list is adopted with the status Twilio reports (the resident is talking),
    not a made-up "queued": the wallboard shows what is really happening."""
    await seed.residents([LI])
    await start_campaign(outbound)
    await outbound.dialer().claim_batch(now=outbound.clock())  # intent written, then the crash
    outbound.fake.live_call("CA" + "5" * 32, to="+8613900000001",
                            from_=outbound.settings.hotline_number)
    outbound.clock.advance(10 * 60)
    await outbound.dialer().reconcile(now=outbound.clock())
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == "CA" + "5" * 32 and attempt.state == "placed"
    async with outbound.sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == attempt.call_sid))
    assert call.status == "in-progress"
    assert outbound.fake.creates() == []  # adopted, never placed a second time


async def test_an_attempt_another_dialer_voided_is_not_revived(outbound):  # noqa: F811
    """After an ambiguous failure the dialer marks its attempt "unknown" only while it is
    still undecided: one another dialer's recovery already voided (and queued again for
    someone to place) stays void, or the resident would be called twice."""
    await queue_escalation(outbound)
    dialer = outbound.dialer()
    [claimed] = await dialer.claim_batch(now=outbound.clock())
    async with outbound.sessions() as session, session.begin():
        await session.execute(update(Attempt).where(Attempt.id == claimed.attempt_id)
                              .values(state="void"))
    await dialer.mark(claimed, state="unknown", error="HTTP 500 after the create")
    [attempt] = await attempts(outbound)
    assert attempt.state == "void" and attempt.error != "HTTP 500 after the create"


async def test_a_call_answered_before_the_dialer_wrote_it_down_is_an_outbound_call(outbound):  # noqa: F811
    """The dialer died after Twilio created the call, before it wrote the SID; the answer
    webhook is the first the server hears of the call. It is logged as the call we placed,
    tied to its job, and not as a resident calling the hotline (the answer rate would count it)."""
    await queue_escalation(outbound)
    [claimed] = await outbound.dialer().claim_batch(now=outbound.clock())
    sid = "CA" + "6" * 32
    twiml = await outbound.twilio.post(
        f"/twilio/outbound?job={claimed.job_id}&n={claimed.number}",
        {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": outbound.settings.hotline_number,
         "To": claimed.phone, "CallStatus": "in-progress", "Direction": "outbound-api"})
    assert twiml.status == 200
    async with outbound.sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == sid))
    assert (call.direction, call.outbound_job_id) == ("outbound", claimed.job_id)
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == sid


async def test_a_call_placed_a_moment_ago_is_not_looked_up(outbound):  # noqa: F811
    """Its status callbacks are still to come: the dialer's check for lost calls leaves it
    alone, since every lookup is a REST request against the account's rate limit."""
    await queue_escalation(outbound)
    dialer = outbound.dialer()
    assert await dialer.run_once() == 1
    [sid] = outbound.fake.calls
    outbound.clock.advance(60)
    await dialer.reconcile(now=outbound.clock())
    assert [r for r in outbound.fake.requests if r.method == "GET" and sid in r.path] == []
    outbound.clock.advance(outbound.settings.dialer_stale_call_minutes * 60)
    await dialer.reconcile(now=outbound.clock())
    assert [r.method for r in outbound.fake.requests if sid in r.path] == ["GET"]


async def test_an_escalation_to_a_number_that_does_not_exist_says_so_on_the_ticket(outbound):  # noqa: F811
    """Twilio refuses the number (21211): the ticket's history tells the supervisor the
    emergency call could not be placed because the number is invalid, so they phone
    someone else, rather than a vague failure."""
    async with outbound.sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=outbound.settings,
                                               now=outbound.clock(), category="repair",
                                               actor="test", resident_phone="+8613900000001")
        ticket_id = ticket.id
    await queue_escalation(outbound, ticket_id=ticket_id)
    outbound.fake.invalid_numbers.add("+8613900000009")
    assert await outbound.dialer().run_once() == 1
    [job] = await all_jobs(outbound)
    assert (job.state, job.outcome) == ("failed", "invalid_number")
    async with outbound.sessions() as session:
        last = await session.scalar(select(TicketHistory).where(
            TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id.desc()).limit(1))
    assert last.action == "escalation_invalid_number"
    assert last.detail.startswith("紧急电话通知号码无效，无法拨出")
