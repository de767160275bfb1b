"""Property-based tests (hypothesis): ring timing in any callback order, any input safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from models import Leg
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone, Twilio

T0 = local(2026, 11, 23, 10, 0, 0)
PROPERTY = hsettings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])

TWILIO_PATHS = ["/twilio/voice", "/twilio/status", "/twilio/menu", "/twilio/repair", "/twilio/fees",
                "/twilio/dial-result", "/twilio/screen", "/twilio/screen-answer",
                "/twilio/leg-status", "/twilio/message", "/twilio/staff-menu",
                "/twilio/queue-wait", "/twilio/queue-key", "/twilio/queue-connect"]
FIELD_NAMES = ["CallSid", "From", "To", "CallStatus", "Digits", "Direction", "DialCallStatus",
               "DialCallSid", "DialBridged", "Timestamp", "SequenceNumber", "CallDuration",
               "RecordingUrl", "RecordingDuration", "ParentCallSid", "AnsweredBy"]
values = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "0", "1", "9", "*", "#", "completed", "no-answer", "busy", "in-progress", "ringing",
     "true", "false", "-1", "99999999999999999999", "Mon, 23 Nov 2026 02:00:00 +0000",
     "not a date", "+8613800000001", "https://api.twilio.com/rec/RE1"]))
forms = st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=10)
queries = st.one_of(st.just(""), st.sampled_from(["?leg=1&n=1", "?leg=abc", "?call=CA1&n=2&phone=x",
                                                   "?n=-5", "?leg=99999999999999999999999"]))


@PROPERTY
@given(path=st.sampled_from(TWILIO_PATHS), query=queries, form=forms,
       sid=st.one_of(st.none(), st.just("CA" + "ab" * 16), st.text(max_size=70)))
async def test_any_signed_form_on_any_twilio_url_gets_twiml_or_a_4xx(client, path, query, form, sid):
    if sid is not None:
        form = {**form, "CallSid": sid}
    twilio = Twilio(client)
    twiml = await twilio.post(path + query, form)
    assert twiml.status == 200 or 400 <= twiml.status < 500, (twiml.status, twiml.text)
    if twiml.status == 200:
        root = ET.fromstring(twiml.text)
        assert root.tag == "Response"


EVENTS = [("initiated", 0), ("ringing", 2), ("in-progress", 9), ("completed", 70)]


@PROPERTY
@given(order=st.permutations(range(4)), repeats=st.lists(st.integers(0, 3), max_size=4),
       accept_at=st.integers(0, 4))
async def test_any_order_of_callbacks_gives_the_same_leg(client, seed, sessions, clock, order, repeats, accept_at):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    clock.advance(120)  # each example a new call: the last one's wrap-up (话后处理) is over
    twilio = Twilio(client)
    caller = Caller(twilio)
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    sequence = list(order) + repeats
    sequence.insert(min(accept_at, len(sequence)), "accept")
    for item in sequence:
        if item == "accept":
            await phone.pick_up_and_screen("1")
            continue
        status, offset = EVENTS[item]
        resp = await phone.event(status, T0 + timedelta(seconds=offset), seq=item + 1)
        assert resp.status == 200
    await phone.dial_result("completed", bridged=True)
    async with sessions() as session:
        leg = await session.scalar(select(Leg).where(Leg.sid == phone.sid))
    assert leg.initiated_at == T0 and leg.ringing_at == T0 + timedelta(seconds=2)
    assert leg.answered_at == T0 + timedelta(seconds=9)
    assert leg.completed_at == T0 + timedelta(seconds=70)
    assert leg.ring_seconds == 7 and leg.accepted and leg.status == "completed" and leg.bridged
