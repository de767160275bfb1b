"""Whose calls and tickets a user sees (`ivr.people.users.own_staff_id`), everywhere.

A staff user linked to no staff member (made before the staff file was imported, or
whose staff member was removed) sees none of the centre's calls or tickets: not in the
API, not on the pages, not in the exports. Supervisors see them all.
"""

from __future__ import annotations

from ivr.app import create_app
from ivr.people.users import add_user, create_token
from tests.pages_support import seed_month

SUPERVISOR_NAME, SUPERVISOR_PASSWORD = "主管", "supervisor-pass"


async def signed_in(aiohttp_client, server, name: str, password: str):
    """Another browser on the same server, signed in as `name`."""
    client = await aiohttp_client(server)
    resp = await client.post("/login", data={"username": name, "password": password},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status == 302
    return client


async def test_a_staff_user_linked_to_no_staff_member_sees_no_calls_nor_tickets(
        aiohttp_client, settings, clock, sessions):
    seeded = await seed_month(sessions, settings)
    async with sessions() as session, session.begin():
        await add_user(session, name="新员工", role="staff", password="new-staff-pass", now=clock())
        unlinked = await create_token(session, name="新员工", now=clock())
        manager = await create_token(session, name=SUPERVISOR_NAME, now=clock())
    # The session cookie is Secure behind https; the test client speaks plain http.
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    api = await aiohttp_client(create_app(plain, clock=clock))
    day = "from=2026-11-01&to=2026-11-30"

    async def api_rows(token: str, what: str) -> list:
        resp = await api.get(f"/api/{what}?{day}", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        return (await resp.json())[what]

    assert len(await api_rows(manager, "calls")) == len(seeded.calls)  # the month has calls...
    assert len(await api_rows(manager, "tickets")) == 2                  # ...and tickets
    assert await api_rows(unlinked, "calls") == []
    assert await api_rows(unlinked, "tickets") == []
    live = await api.get("/api/live", headers={"Authorization": f"Bearer {unlinked}"})
    assert live.status == 403

    pages = await signed_in(aiohttp_client, api.server, "新员工", "new-staff-pass")
    supervisor = await signed_in(aiohttp_client, api.server, SUPERVISOR_NAME, SUPERVISOR_PASSWORD)
    quick = seeded.calls["quick"]
    assert quick in await (await supervisor.get(f"/calls?{day}")).text()
    log = await (await pages.get(f"/calls?{day}")).text()
    assert not any(sid in log for sid in seeded.calls.values())
    assert (await pages.get(f"/calls/{quick}")).status == 403
    exported = await (await pages.get(f"/exports/calls.csv?{day}")).read()
    assert len(exported.decode("utf-8-sig").strip().splitlines()) == 1  # the header alone
    assert "楼道灯不亮" in await (await supervisor.get(f"/tickets?{day}")).text()
    tickets = await (await pages.get(f"/tickets?{day}")).text()
    assert "楼道灯不亮" not in tickets and "噪音投诉" not in tickets
    assert (await pages.get(f"/tickets/{seeded.overdue_ticket_id}")).status == 403
