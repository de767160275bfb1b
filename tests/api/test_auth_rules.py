"""The API's door (`api/auth.py`): who gets in with which header, and which days `from`/`to` mean.

A client script sees these rules as status codes, the `WWW-Authenticate` challenge, JSON
errors, and which calls a day range returns (whole days in IVR_TIMEZONE, `to` included).
"""

from __future__ import annotations

import pytest

from ivr.people.users import add_user, create_token
from models import Call
from tests.conftest import local


async def token_for(sessions, clock, *, role: str = "supervisor", name: str = "主管") -> str:
    async with sessions() as session, session.begin():
        await add_user(session, name=name, role=role, password="pw-12345678", now=clock())
        return await create_token(session, name=name, now=clock(), days=30)


async def add_calls(sessions, *moments) -> None:
    async with sessions() as session, session.begin():
        for n, at in enumerate(moments):
            session.add(Call(sid=f"CA{n:032d}", from_number="+8613900000001", started_at=at))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_without_a_bearer_token_the_answer_is_401_with_the_challenge(client, header):
    headers = {} if header is None else {"Authorization": header}
    resp = await client.get("/api/calls?from=2026-11-23", headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.content_type == "application/json"
    assert await resp.json() == {"error": "bearer token required"}


async def test_an_unknown_token_is_401_and_says_so(client, sessions, clock):
    await token_for(sessions, clock)
    resp = await client.get("/api/calls", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert await resp.json() == {"error": "invalid, expired or revoked token"}


async def test_the_scheme_is_case_blind_and_spaces_around_the_token_do_not_matter(client, sessions, clock):
    token = await token_for(sessions, clock)
    for header in (f"Bearer {token}", f"bearer {token}", f"BEARER {token}", f"Bearer  {token} "):
        resp = await client.get("/api/calls?from=2026-11-23", headers={"Authorization": header})
        assert resp.status == 200, header


async def test_staff_are_refused_the_statistics_in_json_that_keeps_its_words(client, sessions, clock):
    token = await token_for(sessions, clock, role="staff", name="客服")
    resp = await client.get("/api/stats?from=2026-11-23", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 403
    assert resp.content_type == "application/json"
    assert await resp.json() == {"error": "the statistics are for supervisors"}


async def test_from_and_to_are_whole_local_days_with_to_included(client, sessions, clock):
    await add_calls(sessions,
                    local(2026, 11, 21, 23, 59, 59),  # the day before `from`
                    local(2026, 11, 22, 0, 0, 0),     # the first moment of `from`
                    local(2026, 11, 23, 23, 59, 59),  # the last moment of `to`
                    local(2026, 11, 24, 0, 0, 0))     # the day after `to`
    token = await token_for(sessions, clock)
    auth = {"Authorization": f"Bearer {token}"}

    resp = await client.get("/api/calls?from=2026-11-22&to=2026-11-23", headers=auth)
    assert resp.status == 200
    sids = [c["sid"] for c in (await resp.json())["calls"]]
    assert sids == [f"CA{1:032d}", f"CA{2:032d}"]

    # `from` alone is that one day
    resp = await client.get("/api/calls?from=2026-11-23", headers=auth)
    assert [c["sid"] for c in (await resp.json())["calls"]] == [f"CA{2:032d}"]

    # a day's range is one day long even where it starts at local midnight (UTC+8)
    resp = await client.get("/api/calls?from=2026-11-24&to=2026-11-24", headers=auth)
    assert [c["sid"] for c in (await resp.json())["calls"]] == [f"CA{3:032d}"]


async def test_without_dates_the_range_is_today_by_the_servers_clock(client, sessions, clock):
    clock.set(local(2026, 11, 23, 0, 30))  # just after local midnight: still 22 Nov in UTC
    await add_calls(sessions, local(2026, 11, 22, 23, 0), local(2026, 11, 23, 0, 10),
                    local(2026, 11, 24, 0, 0))
    token = await token_for(sessions, clock)
    resp = await client.get("/api/calls", headers={"Authorization": f"Bearer {token}"})
    assert [c["sid"] for c in (await resp.json())["calls"]] == [f"CA{1:032d}"]


@pytest.mark.parametrize("query, error", [
    ("from=2026-11-24&to=2026-11-23", "to is before from"),
    ("from=23/11/2026", "from and to: "),
    ("from=2026-11-23&to=tomorrow", "from and to: "),
])
async def test_a_bad_range_is_400_in_json(client, sessions, clock, query, error):
    token = await token_for(sessions, clock)
    resp = await client.get(f"/api/calls?{query}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 400
    assert resp.content_type == "application/json"
    assert (await resp.json())["error"].startswith(error)
