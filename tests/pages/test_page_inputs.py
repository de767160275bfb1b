"""Every number a signed-in user can type is checked: a 400 or a 404, never a 500.

A hypothesis walk over every page route of the running router (so a page added later is
walked too), as an admin and as a staff member: path ids, query fields and form fields
filled with huge, negative and malformed numbers, far dates and months, and any text.
The API has its own walk (schemathesis, `tests/api/test_openapi.py`).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.app import create_app
from models import LoginSession, User
from tests.pages.test_access import routes
from tests.pages_support import seed_month

WALK = hsettings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])
# What the probe typed, and their kin: each must be a 4xx, never a 500.
PROBED = ["/tickets/99999999999999999999", "/calls?page=99999999999999999999",
          "/calls?page=9223372036854775807", "/calls?staff=99999999999999999999",
          "/calls?staff=-99999999999999999999", "/reports/monthly.csv?month=9999-12",
          "/reports/monthly.xlsx?month=9999-12", "/reports?month=9999-12",
          "/reports?date=9999-12-31", "/tickets?owner=99999999999999999999",
          "/campaigns/99999999999999999999", "/exports/calls.csv?staff=99999999999999999999",
          "/?date=9999-12-31", "/reports?month=0000-01", "/reports?month=0001-01"]
EXTREMES = ["99999999999999999999", "9223372036854775808", "-9223372036854775809",
            "2147483648", "-1", "0", "1e309", "NaN", "１２", " 7", "0x10"]
NUMBERS = st.one_of(st.sampled_from(EXTREMES),
                    st.integers(min_value=2**31 - 3, max_value=2**70).map(str),
                    st.integers().map(str))
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 99999), st.integers(0, 13)),
    st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d}", st.integers(-1, 99999),
              st.integers(0, 13), st.integers(0, 32)))
VALUES = st.one_of(NUMBERS, DATES, st.text(max_size=20))
QUERY_FIELDS = ["page", "staff", "owner", "from", "to", "date", "month", "status", "menu",
                "outcome", "direction", "resident", "call", "error", "saved", "created",
                "staff_as", "overdue", "category", "level", "q", "sort", "queue"]
# No `name` nor `password`: a walk over `/admin/users` must not change anyone.
FORM_FIELDS = ["staff_id", "owner", "status", "note", "text", "department", "category",
               "description", "call", "role", "active"]
ACTIONS = ["status", "owner", "note", "resolve"]
NOT_WALKED = {"/logout", "/login", "/lang/{lang}"}  # they sign out or in


def page_routes(app):
    return sorted((method, path) for method, path, _ in routes(app)
                  if not path.startswith("/api/") and path not in NOT_WALKED)


@pytest.fixture
async def people(aiohttp_client, settings, clock, sessions):
    """An admin and a staff member signed in to the seeded month, with their CSRF tokens."""
    await seed_month(sessions, settings)
    # The session cookie is Secure behind https; the test client speaks plain http.
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    app = create_app(plain, clock=clock)
    signed = {}
    for name, password in (("管理员", "admin-pass-1"), ("wangfang", "staff-pass-1")):
        client = await aiohttp_client(app) if not signed else await aiohttp_client(
            next(iter(signed.values()))[0].server)
        resp = await client.post("/login", data={"username": name, "password": password},
                                 headers={"Origin": str(client.make_url("/")).rstrip("/")},
                                 allow_redirects=False)
        assert resp.status == 302
        async with sessions() as session:
            user = await session.scalar(select(User).where(User.name == name))
            login = await session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
        signed[name] = (client, login.csrf_token)
    return list(signed.values())


def concrete(path: str, fill: dict) -> str:
    return re.sub(r"\{(\w+)(:([^}]*))?\}",
                  lambda m: fill.get(m.group(1)) or (m.group(3) or "1").split("|")[0], path)


async def test_the_numbers_the_probe_typed_are_a_4xx(people):
    for client, csrf in people:
        for url in PROBED:
            resp = await client.get(url, allow_redirects=False)
            assert 400 <= resp.status < 500, (url, resp.status)
        # The numbers a form takes, too.
        for url, form in [("/tickets/1/owner", {"staff_id": "99999999999999999999"}),
                          ("/admin/staff/99999999999999999999/active", {}),
                          ("/tickets/99999999999999999999/note", {"text": "x"})]:
            resp = await client.post(url, data={**form, "csrf": csrf}, allow_redirects=False)
            assert 400 <= resp.status < 500, (url, form, resp.status)


async def test_a_day_with_no_calls_still_shows_the_staff_who_own_tickets(people):
    """Found by the walk: a staff member with open tickets but no calls that day had a row
    without the switchboard's figures, and the dashboard gave 500."""
    for client, _ in people:
        resp = await client.get("/?date=2027-01-01", allow_redirects=False)
        assert resp.status == 200, await resp.text()


# A key outside its list, in every filter that takes one: told which keys it takes.
CHOICES = [("/calls?staff=1&staff_as=sometimes", "staff_as", ["answered", "rang", "missed"]),
           ("/exports/calls.csv?staff_as=all", "staff_as", ["answered", "rang", "missed"]),
           ("/tickets?status=done", "status", ["open", "closed"]),
           ("/tickets?category=plumbing", "category", ["repair", "complaint"]),
           ("/tickets?sort=urgency", "sort", ["created", "due"]),
           ("/tickets?queue=all", "queue", ["mine"]),
           ("/tickets?overdue=yes", "overdue", ["1", "0"])]


async def test_a_key_outside_its_list_is_a_400_naming_the_field_and_its_keys(people):
    client, _ = people[0]  # the admin: every filter is theirs to use
    for url, field, some_keys in CHOICES:
        resp = await client.get(url, allow_redirects=False)
        text = await resp.text()
        assert resp.status == 400, (url, resp.status)
        assert text.startswith(f"{field}: expected "), (url, text)
        assert all(key in text for key in some_keys), (url, text)


@WALK
@given(data=st.data())
async def test_any_typed_number_on_any_page_is_never_a_500(people, data):
    client, csrf = data.draw(st.sampled_from(people), label="who")
    method, path = data.draw(st.sampled_from(page_routes(client.server.app)), label="route")
    fill = {"id": data.draw(st.one_of(NUMBERS.filter(str.isdigit), st.sampled_from(["1", "2"])),
                            label="id"),
            "sid": data.draw(st.one_of(st.just("CA" + "0" * 32), st.text(
                st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=40)),
                label="sid"),
            "action": data.draw(st.one_of(st.sampled_from(ACTIONS), st.text(
                st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8)),
                label="action")}
    url = concrete(path, fill)
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_FIELDS), VALUES, max_size=4),
                      label="query")
    if method == "GET":
        resp = await client.get(url, params=query, allow_redirects=False)
    else:
        form = data.draw(st.dictionaries(st.sampled_from(FORM_FIELDS), VALUES, max_size=4),
                         label="form")
        resp = await client.post(url, params=query, data={**form, "csrf": csrf},
                                 allow_redirects=False)
    assert resp.status < 500, (method, url, query, resp.status)
