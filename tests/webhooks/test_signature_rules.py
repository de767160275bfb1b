"""The signature check's finer rules (`webhooks/signature.py`): which URL, which bodies, which
methods. Every request here is signed with the twilio library's `RequestValidator`."""

from __future__ import annotations

from aiohttp import FormData
from sqlalchemy import func, select

from ivr.app import create_app
from models import Call
from tests.twilio_client import Caller, Twilio


async def count_calls(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Call))


async def test_without_a_public_url_the_address_the_request_came_to_is_what_is_signed(
        aiohttp_client, settings, clock, sessions):
    app = create_app(settings.model_copy(update={"public_base_url": ""}), clock=clock)
    client = await aiohttp_client(app)
    here = str(client.make_url("")).rstrip("/")
    assert (await Caller(Twilio(client)).dial_in()).status == 403   # signed for another URL
    assert (await Caller(Twilio(client, base=here)).dial_in()).status == 200
    assert await count_calls(sessions) == 1


async def test_a_signed_json_body_is_refused_twilio_posts_forms(twilio, client, caller, sessions):
    params = caller.params()
    resp = await client.post("/twilio/voice", json=params,
                             headers={"X-Twilio-Signature": twilio.sign("/twilio/voice", params)})
    assert resp.status == 403
    assert "Twilio posts forms" in await resp.text()
    assert await count_calls(sessions) == 0


async def test_a_signed_multipart_form_is_taken_like_an_urlencoded_one(twilio, client, caller, sessions):
    params = caller.params()
    form = FormData(quote_fields=False)
    for name, value in params.items():
        form.add_field(name, value)
    form.add_field("_", "", content_type="text/plain")  # makes aiohttp send multipart/form-data
    signed = {**params, "_": ""}
    resp = await client.post("/twilio/voice", data=form,
                             headers={"X-Twilio-Signature": twilio.sign("/twilio/voice", signed)})
    assert resp.status == 200
    assert await count_calls(sessions) == 1


async def test_a_get_is_checked_on_its_url_alone(twilio, client):
    """Twilio signs a GET's URL with its query and no body: unsigned is refused before the
    router says anything; signed, the request gets as far as the router (POST only here)."""
    path = "/twilio/voice?CallSid=CA" + "1" * 32
    assert (await client.get(path)).status == 403
    resp = await client.get(path, headers={"X-Twilio-Signature": twilio.sign(path, {})})
    assert resp.status == 405


async def test_pages_and_the_api_are_not_asked_for_a_twilio_signature(client):
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/calls")).status == 401   # the API's own door, not a 403
