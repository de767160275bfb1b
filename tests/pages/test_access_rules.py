"""What a refused user sees (`pages/access.py`): a 403 page in Chinese that says why."""

from __future__ import annotations

from urllib.parse import unquote

from ivr.app import create_app
from ivr.people.users import add_user
from tests.pages_support import signed_in_client


async def test_staff_opening_the_admin_page_are_told_in_chinese_they_may_not(
        aiohttp_client, sessions, settings, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="客服", role="staff", password="pw-12345678", now=clock())
    client = await signed_in_client(aiohttp_client, settings, clock, name="客服",
                                    password="pw-12345678")
    resp = await client.get("/admin")
    assert resp.status == 403
    page = await resp.text()
    assert "403 ·" in page
    assert "您没有权限查看此页面" in page


async def test_a_form_sent_after_the_sign_in_expired_is_told_in_chinese_to_sign_in_again(
        aiohttp_client, settings, clock):
    """Not a bare English 401: the page says why, and its link signs in and goes back to
    the page the form was on (only this site's own pages)."""
    client = await aiohttp_client(create_app(settings, clock=clock))
    form_page = str(client.make_url("/tickets/7?tab=history"))
    resp = await client.post("/tickets/7/update", data={"note": "已联系住户"},
                             headers={"Referer": form_page}, allow_redirects=False)
    assert resp.status == 401
    page = await resp.text()
    assert "401 ·" in page and "<title>401" in page
    assert "登录已过期，请您重新登录后再提交" in page
    assert 'href="/login?next=%2Ftickets%2F7%3Ftab%3Dhistory"' in page
    resp = await client.post("/tickets/7/update", data={"note": "已联系住户"},
                             headers={"Referer": str(client.make_url("/tickets/7"))})
    assert 'href="/login?next=%2Ftickets%2F7"' in await resp.text()  # no stray "?"
    resp = await client.post("/tickets/7/update", data={"note": "已联系住户"},
                             headers={"Referer": "https://elsewhere.example/tickets/7"})
    assert resp.status == 401
    assert 'href="/login"' in await resp.text()


async def a_user_signed_in(aiohttp_client, sessions, settings, clock, *, role="supervisor"):
    async with sessions() as session, session.begin():
        await add_user(session, name="值班主管", role=role, password="pw-12345678", now=clock())
    return await signed_in_client(aiohttp_client, settings, clock, name="值班主管",
                                  password="pw-12345678")


async def test_a_supervisor_using_the_pages_minutes_apart_stays_signed_in_until_the_session_ends(
        aiohttp_client, sessions, settings, clock):
    """Visits minutes apart all open the page; the session ends `IVR_SESSION_HOURS`
    after signing in, however it was used."""
    client = await a_user_signed_in(aiohttp_client, sessions, settings, clock)
    for _ in range(3):
        resp = await client.get("/desk", allow_redirects=False)
        assert resp.status == 200
        clock.advance(6 * 60)
    clock.advance(settings.session_hours * 3600)
    resp = await client.get("/desk", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/login?next=")
    assert unquote(resp.headers["Location"].split("=", 1)[1]) == "/desk"


async def test_a_browser_with_an_unknown_session_cookie_is_sent_to_sign_in(
        aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(settings, clock=clock))
    client.session.cookie_jar.update_cookies({"ivr_session": "no-such-session"})
    resp = await client.get("/desk", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/login?next=")


async def test_a_head_request_needs_no_csrf_token(aiohttp_client, sessions, settings, clock):
    client = await a_user_signed_in(aiohttp_client, sessions, settings, clock)
    resp = await client.head("/desk", allow_redirects=False)
    assert resp.status == 200


async def test_a_form_without_the_csrf_token_is_refused_in_chinese_and_changes_nothing(
        aiohttp_client, sessions, settings, clock):
    client = await a_user_signed_in(aiohttp_client, sessions, settings, clock)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        resp = await client.post("/logout", data={"csrf": ""}, headers=headers,
                                 allow_redirects=False)
        assert resp.status == 403
        page = await resp.text()
        assert "403 ·" in page and "404 ·" not in page
        assert "表单已失效或来源不明，请刷新页面后重试" in page
    resp = await client.get("/desk", allow_redirects=False)  # still signed in
    assert resp.status == 200
