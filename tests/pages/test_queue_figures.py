"""The dashboard shows the queue: callers who waited in line, their waits, and those
who hung up there with how long each had waited."""

from __future__ import annotations

from datetime import timedelta

from ivr.app import create_app
from ivr.people.users import add_user
from models import Call
from tests.conftest import local

T0 = local(2026, 11, 23, 10, 0, 0)


def queued_call(n: int, *, wait: int, exit: str) -> Call:
    start = T0 + timedelta(minutes=n)
    return Call(sid=f"CA{n:032d}", direction="inbound", from_number=f"+86139000000{n:02d}",
                to_number="+862161234567", started_at=start, ended_at=start + timedelta(minutes=3),
                menu_choice="person", status="completed",
                outcome="abandoned" if exit == "abandoned" else "answered",
                transfer_requested_at=start, queued_at=start, queue_wait_seconds=wait,
                queue_exit=exit)


async def test_the_dashboard_shows_waits_in_line_and_those_abandoned_there(
        aiohttp_client, settings, clock, sessions):
    clock.set(T0 + timedelta(hours=2))
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-12345678", now=clock())
        session.add_all([queued_call(1, wait=30, exit="rung"), queued_call(2, wait=45, exit="abandoned"),
                         queued_call(3, wait=90, exit="abandoned")])
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    client = await aiohttp_client(create_app(plain, clock=clock))
    resp = await client.post("/login", data={"username": "主管", "password": "pw-12345678"},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status in (302, 303)
    html = await (await client.get("/")).text()

    def cell(figure: str) -> str:
        marker = f'data-figure="{figure}" data-period="today" data-value="'
        assert marker in html, figure
        return html.split(marker, 1)[1].split('"', 1)[0]

    assert "排队中放弃" in html and "排队放弃前等待（秒）" in html
    assert cell("queued_calls") == "3"
    assert cell("average_queue_wait_seconds") == "55.0"
    assert cell("longest_queue_wait_seconds") == "90"
    assert cell("abandoned_in_queue") == "2"
    assert cell("abandoned_in_queue_waits") == "90,45"
    assert "90、45" in html
