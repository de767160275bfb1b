"""Every route, walked as nobody, staff, supervisor and admin: the role is always checked.

Routes are read from the running router, so a page or API added later is walked too.
Who may use each is written here, not read from the handlers under test: widening a
page's roles in the code fails this test until the table says so too.
"""

from __future__ import annotations

import re

import pytest

from ivr.people.users import add_user, create_token

ROLES = ("staff", "supervisor", "admin")
PUBLIC = {("GET", "/healthz"), ("GET", "/favicon.ico"), ("GET", "/login"), ("POST", "/login"),
          ("GET", "/api/openapi.json"), ("GET", "/lang/{lang}")}
EVERYONE = ("staff", "supervisor", "admin")
MANAGERS = ("supervisor", "admin")
# Who may use each route that needs a sign-in or a token.
EXPECTED_ROLES = {
    ("GET", "/"): EVERYONE,  # staff see their own work there, managers the centre
    ("GET", "/admin"): ("admin",),
    ("POST", "/admin/staff/{id}/active"): ("admin",),
    ("POST", "/admin/users"): ("admin",),
    ("GET", "/api/calls"): EVERYONE,
    ("GET", "/api/live"): MANAGERS,
    ("GET", "/api/stats"): MANAGERS,
    ("GET", "/api/tickets"): EVERYONE,
    ("POST", "/api/tickets"): EVERYONE,
    ("POST", "/api/tickets/{id}/resolve"): EVERYONE,
    ("GET", "/calls"): EVERYONE,
    ("GET", "/calls/{sid}"): EVERYONE,
    ("GET", "/campaigns"): MANAGERS,
    ("GET", "/campaigns/fee-reminder"): MANAGERS,
    ("POST", "/campaigns/fee-reminder"): MANAGERS,
    ("GET", "/campaigns/{id}"): MANAGERS,
    ("GET", "/desk"): EVERYONE,
    ("GET", "/desk/events"): EVERYONE,  # each sees only their own callers
    ("POST", "/desk/tickets"): EVERYONE,
    ("GET", "/exports/{what}.{fmt}"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("POST", "/notices"): MANAGERS,
    ("POST", "/notices/{id}/close"): MANAGERS,
    ("GET", "/reports"): MANAGERS,
    ("GET", "/reports/monthly.{fmt}"): MANAGERS,
    ("POST", "/staff/{id}/sign-in"): EVERYONE,  # staff sign themselves in; managers anyone
    ("GET", "/tickets"): EVERYONE,
    ("GET", "/tickets/{id}"): EVERYONE,
    ("POST", "/tickets/{id}/{action}"): EVERYONE,
    ("GET", "/wall"): MANAGERS,
    ("GET", "/wall/events"): MANAGERS,
}
SAMPLE = {"id": "1", "sid": "CA" + "0" * 32, "what": "calls", "fmt": "csv", "lang": "en",
          "action": "note"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE.get(m.group(1), "1"), path)


def routes(app):
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not path or path.startswith("/twilio/") or "directory" in info:
            continue
        for route in resource:
            if route.method in ("HEAD", "*"):
                continue
            yield route.method, path, route.handler


@pytest.fixture
async def people(sessions, clock):
    tokens = {}
    async with sessions() as session, session.begin():
        for role in ROLES:
            await add_user(session, name=f"{role}-user", role=role, password="pw-12345678", now=clock())
            tokens[role] = await create_token(session, name=f"{role}-user", now=clock())
    return tokens


async def sign_in(aiohttp_client, app, role):
    client = await aiohttp_client(app)
    resp = await client.post("/login", data={"username": f"{role}-user", "password": "pw-12345678"},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status in (302, 303), await resp.text()
    return client


async def test_every_route_checks_who_is_asking(client, people, aiohttp_client, settings, clock):
    from ivr.app import create_app

    walked = list(routes(client.server.app))
    assert len(walked) >= 20
    guarded = {(method, path) for method, path, _ in walked if (method, path) not in PUBLIC}
    assert guarded == set(EXPECTED_ROLES), "a route is missing from EXPECTED_ROLES, or gone"
    # The session cookie is Secure behind https; the test client speaks plain http.
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    signed = {role: await sign_in(aiohttp_client, create_app(plain, clock=clock), role) for role in ROLES}
    walked.sort(key=lambda r: r[1] == "/logout")
    for method, path, handler in walked:
        url = concrete(path)
        public = (method, path) in PUBLIC
        is_api = path.startswith("/api/")
        # nobody
        resp = await client.request(method, url, allow_redirects=False)
        assert resp.status < 500, (method, path, resp.status)
        if not public:
            if is_api or method != "GET":
                assert resp.status == 401, (method, path, resp.status)
            else:
                assert resp.status == 302 and resp.headers["Location"].startswith("/login"), (method, path)
        if public:
            continue
        allowed = EXPECTED_ROLES[(method, path)]
        for role in ROLES:
            if is_api:
                resp = await client.request(method, url, allow_redirects=False,
                                            headers={"Authorization": f"Bearer {people[role]}"},
                                            json={} if method == "POST" else None)
            else:
                resp = await signed[role].request(method, url, allow_redirects=False)
            assert resp.status < 500, (role, method, path, resp.status)
            if role in allowed:
                assert resp.status != 401 and (resp.status != 403 or method == "POST"), (role, method, path, resp.status)
            else:
                assert resp.status == 403, (role, method, path, resp.status)
