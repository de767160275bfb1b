"""Only Twilio gets in: every `/twilio/*` request is checked with `RequestValidator`."""

from __future__ import annotations

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from ivr.app import create_app
from models import Call, CallEvent
from tests.twilio_client import Caller, Twilio


async def count_calls(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Call))


async def test_a_signed_request_is_answered(caller):
    assert (await caller.dial_in()).status == 200


async def test_unsigned_is_403_and_writes_nothing(client, caller, sessions):
    resp = await client.post("/twilio/voice", data=caller.params())
    assert resp.status == 403
    assert await resp.text() == "missing X-Twilio-Signature"   # what Twilio's debugger shows
    assert await count_calls(sessions) == 0


async def test_forged_signature_is_403(twilio, caller, sessions):
    twiml = await twilio.post("/twilio/voice", caller.params(), signature="bm90IGEgc2lnbmF0dXJl")
    assert twiml.status == 403
    assert twiml.text == "invalid X-Twilio-Signature"
    assert await count_calls(sessions) == 0


async def test_signed_with_another_token_is_403(client, caller):
    forger = Twilio(client, token="someone-elses-token")
    assert (await forger.post("/twilio/voice", caller.params())).status == 403


async def test_signed_for_another_url_is_403(twilio, client, caller):
    params = caller.params()
    signature = twilio.sign("/twilio/menu", params)
    resp = await client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert resp.status == 403


async def test_signed_for_another_host_is_403(client, caller):
    other = Twilio(client, base="https://evil.example.net")
    assert (await other.post("/twilio/voice", caller.params())).status == 403


async def test_a_tampered_parameter_is_403(twilio, client, caller, sessions):
    params = caller.params()
    signature = twilio.sign("/twilio/voice", params)
    params["From"] = "+8613111111111"
    resp = await client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert resp.status == 403
    assert await count_calls(sessions) == 0


async def test_a_tampered_query_is_403(twilio, client, caller):
    params = caller.params(DialCallStatus="no-answer")
    signature = twilio.sign("/twilio/dial-result?leg=1", params)
    resp = await client.post("/twilio/dial-result?leg=2", data=params,
                             headers={"X-Twilio-Signature": signature})
    assert resp.status == 403


async def test_a_form_with_a_file_in_it_is_refused_and_writes_nothing(client, caller, sessions):
    """Twilio never uploads a file to a voice webhook; one that cannot even be checked
    (the validator fails on it) is refused like any other forgery."""
    form = FormData()
    for name, value in caller.params().items():
        form.add_field(name, value)
    form.add_field("Recording", b"RIFF....WAVE", filename="x.wav", content_type="audio/wav")
    resp = await client.post("/twilio/voice", data=form,
                             headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert resp.status == 403
    assert await count_calls(sessions) == 0


async def test_behind_a_proxy_the_public_url_is_what_counts(twilio, client, caller):
    """The proxy speaks plain HTTP to us on another host; Twilio signed the public URL."""
    params = caller.params()
    headers = {"X-Twilio-Signature": twilio.sign("/twilio/voice", params),
               "Host": "10.0.0.5:8080", "X-Forwarded-Proto": "https"}
    resp = await client.post("/twilio/voice", data=params, headers=headers)
    assert resp.status == 200


async def test_sha256_signatures_named_by_the_settings_header_are_accepted(twilio, caller):
    twiml = await twilio.post("/twilio/voice", caller.params(), algorithm="HMAC_SHA256")
    assert twiml.status == 200


async def test_a_sha1_signature_under_a_sha256_header_is_refused(twilio, client, caller):
    params = caller.params()
    resp = await client.post("/twilio/voice", data=params, headers={
        "X-Twilio-Signature": twilio.sign("/twilio/voice", params),
        "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256"})
    assert resp.status == 403


async def test_the_query_string_is_signed_raw(twilio, caller):
    """Dial actions carry `?leg=N`; the signature covers it exactly as sent."""
    await caller.dial_in()
    twiml = await twilio.post("/twilio/leg-status?leg=999", caller.params(CallStatus="ringing"))
    assert twiml.status == 200


def twilio_routes(app) -> list[str]:
    paths = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/twilio/"):
            paths.add(path)
    return sorted(paths)


async def test_every_twilio_route_refuses_unsigned_posts(client, settings, sessions):
    routes = twilio_routes(create_app(settings))
    assert len(routes) >= 8
    for path in routes:
        resp = await client.post(path, data={"CallSid": "CA" + "1" * 32, "From": "+8613900000001"})
        assert resp.status == 403, path
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallEvent)) == 0


async def test_development_mode_with_a_real_token_still_checks_signatures(aiohttp_client, settings,
                                                                          clock, sessions):
    """IVR_INSECURE_DEV=1 only lets unsigned requests in when there is no token to check
    them with: a server given a real TWILIO_AUTH_TOKEN checks every request."""
    app = create_app(settings.model_copy(update={"insecure_dev": True}), clock=clock)
    client = await aiohttp_client(app)
    caller = Caller(Twilio(client))
    resp = await client.post("/twilio/voice", data=caller.params())
    assert resp.status == 403
    assert await count_calls(sessions) == 0
    assert (await caller.dial_in()).status == 200


async def test_development_mode_without_a_token_takes_unsigned_requests(aiohttp_client, settings,
                                                                         clock, sessions):
    app = create_app(settings.model_copy(update={"insecure_dev": True, "twilio_auth_token": ""}),
                     clock=clock)
    client = await aiohttp_client(app)
    resp = await client.post("/twilio/voice", data=Caller(Twilio(client)).params())
    assert resp.status == 200 and await count_calls(sessions) == 1
