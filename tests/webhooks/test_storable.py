"""What the database cannot store is cleaned at the boundary.

PostgreSQL refuses a NUL character in text: a webhook carrying one (a caller ID from a
broken carrier, or a signed request from a prober) was journaled and replayed without
end. It is stored without the NUL, the same on both databases.
"""

from __future__ import annotations

from sqlalchemy import select

from ivr.platform.resources import JOURNAL
from ivr.tools.simulator import call_params
from models import Call, CallEvent
from tests.twilio_client import HOTLINE, Twilio, new_sid


async def test_a_nul_character_in_a_webhook_is_cleaned_and_the_call_is_stored(client, sessions):
    twilio = Twilio(client)
    sid = new_sid()
    params = call_params(sid=sid, from_number="+861390000\x000001", to_number=HOTLINE,
                         CallStatus="ringing", CallerName="王\x00先生")
    twiml = await twilio.post("/twilio/voice", params)
    assert twiml.status == 200
    assert twiml.says()[0].startswith("上午好")  # the real greeting, not the apology
    assert client.server.app[JOURNAL].pending() == 0
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == sid))
        event = await session.scalar(select(CallEvent).where(CallEvent.call_sid == sid))
    assert call.from_number == "+8613900000001"
    assert event.params["CallerName"] == "王先生"


async def test_a_nul_character_in_an_api_ticket_is_cleaned(client, sessions, clock):
    from ivr.people.users import add_user, create_token

    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        token = await create_token(session, name="主管", now=clock())
    response = await client.post("/api/tickets", headers={"Authorization": f"Bearer {token}"},
                                 json={"category": "inquiry", "description": "咨询\x00停车"})
    assert response.status == 201, await response.text()
    assert (await response.json())["description"] == "咨询停车"
