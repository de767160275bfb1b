"""The login form and the language switch: no open redirect, no login CSRF.

A redirect target is judged the way a browser reads the `Location` header (Python's
`urljoin` follows the WHATWG rules that matter here: tabs and newlines are dropped,
a backslash is a slash).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from ivr.people.users import add_user

SITE = "http://127.0.0.1"
HOSTILE_NEXT = ["/%09/evil.example", "/%0A/evil.example", "/%0D/evil.example",
                "/%09%0A/evil.example/path", "%09//evil.example", "/\\evil.example",
                "/%5C/evil.example", "//evil.example", "https://evil.example/",
                "/%00/evil.example", "%20//evil.example"]


def lands_on(location: str) -> str:
    """The host a browser on this site goes to for `Location: location`."""
    return urlsplit(urljoin(SITE + "/calls", location)).netloc


@pytest.fixture
async def supervisor(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-12345678", now=clock())


def same_site(client) -> dict:
    return {"Origin": str(client.make_url("/")).rstrip("/")}


@pytest.mark.parametrize("target", HOSTILE_NEXT)
async def test_the_language_switch_never_sends_the_browser_to_another_site(client, target):
    resp = await client.get(f"/lang/en?next={target}", allow_redirects=False)
    assert resp.status == 302
    assert lands_on(resp.headers["Location"]) == "127.0.0.1", resp.headers["Location"]


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0A/evil.example",
                                    "/%0D/evil.example", "/\\evil.example"])
async def test_signing_in_never_sends_the_browser_to_another_site(client, supervisor, target):
    from urllib.parse import unquote

    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678",
                                              "next": unquote(target)},
                              headers=same_site(client), allow_redirects=False)
    assert resp.status == 302
    assert lands_on(resp.headers["Location"]) == "127.0.0.1", resp.headers["Location"]


async def test_a_path_on_this_site_is_still_where_the_browser_goes(client, supervisor):
    resp = await client.get("/lang/en?next=/calls%3Fstaff%3D2", allow_redirects=False)
    assert resp.headers["Location"] == "/calls?staff=2"
    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678",
                                              "next": "/tickets/7"},
                              headers=same_site(client), allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/tickets/7")


@pytest.mark.parametrize("headers", [{}, {"Origin": "null"}, {"Origin": "https://evil.example"},
                                     {"Referer": "https://evil.example/login"},
                                     {"Origin": "null", "Referer": "http://127.0.0.1/login"}],
                         ids=["no-origin", "origin-null", "other-site", "other-referer",
                              "null-with-referer"])
async def test_a_login_from_no_site_or_another_site_is_refused(client, supervisor, headers):
    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678"},
                             headers=headers, allow_redirects=False)
    assert resp.status == 403
    assert "ivr_session" not in resp.cookies


async def test_a_login_from_this_site_is_accepted(client, supervisor):
    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678"},
                             headers=same_site(client), allow_redirects=False)
    assert resp.status == 302 and "ivr_session" in resp.cookies
    # A browser that sends no Origin still sends the Referer of the login page.
    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678"},
                             headers={"Referer": str(client.make_url("/login"))},
                             allow_redirects=False)
    assert resp.status == 302
