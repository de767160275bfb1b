"""What a refused user sees (`pages/access.py`): a 403 page in Chinese that says why."""

from __future__ import annotations

from ivr.app import create_app
from ivr.people.users import add_user


async def test_staff_opening_the_admin_page_are_told_in_chinese_they_may_not(
        aiohttp_client, sessions, settings, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="客服", role="staff", password="pw-12345678", now=clock())
    # The session cookie is Secure behind https; the test client speaks plain http.
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    client = await aiohttp_client(create_app(plain, clock=clock))
    resp = await client.post("/login", data={"username": "客服", "password": "pw-12345678"},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status in (302, 303)
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
    assert "登录已过期，请您重新登录后再提交" in page
    assert 'href="/login?next=%2Ftickets%2F7%3Ftab%3Dhistory"' in page
    resp = await client.post("/tickets/7/update", data={"note": "已联系住户"},
                             headers={"Referer": "https://elsewhere.example/tickets/7"})
    assert resp.status == 401
    assert 'href="/login"' in await resp.text()
