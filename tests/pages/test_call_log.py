"""The call log in Chromium: what each outbound call was for, its ticket one click away,
and the staff filter telling the person who answered from the people it rang."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from ivr.app import create_app
from tests.pages.test_pages import logged_in, url
from tests.pages_support import seed_month, seed_outbound

DAY = "from=2026-11-23&to=2026-11-23"


@pytest.fixture
async def site(aiohttp_server, settings, clock, sessions):
    seeded = await seed_month(sessions, settings)
    outbound = await seed_outbound(sessions, settings, seeded)
    server = await aiohttp_server(create_app(settings, clock=clock))
    return server, seeded, outbound


def row_of(page, sid: str):
    return page.locator("#call-log tbody tr", has=page.locator(f'a[href="/calls/{sid}"]'))


async def test_an_outbound_follow_up_says_so_and_links_its_ticket(browser, site):
    server, seeded, outbound = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.goto(url(server, f"/calls?{DAY}"))
    follow_up = row_of(page, outbound["follow_up"])
    assert await follow_up.locator("td.purpose").inner_text() == "回访"
    assert await row_of(page, outbound["callback"]).locator("td.purpose").inner_text() == "回电"
    assert await row_of(page, outbound["campaign"]).locator("td.purpose").inner_text() == "催缴"
    assert await row_of(page, seeded.calls["quick"]).locator("td.purpose").inner_text() == ""
    link = follow_up.locator("td.tickets a")
    assert await link.get_attribute("href") == f"/tickets/{seeded.overdue_ticket_id}"
    number = await link.inner_text()
    assert number.startswith("20261121-")
    # An inbound call's ticket is a link too.
    hunt_link = row_of(page, seeded.calls["hunt"]).locator("td.tickets a")
    assert (await hunt_link.get_attribute("href")).startswith("/tickets/")
    await link.click()
    await page.wait_for_load_state()
    assert page.url.endswith(f"/tickets/{seeded.overdue_ticket_id}")
    assert number in await page.inner_text("h1")
    # The call's own page says what it was for and links the ticket as well.
    await page.goto(url(server, f"/calls/{outbound['follow_up']}"))
    assert await page.inner_text("#purpose") == "回访"
    assert await page.locator(f'a[href="/tickets/{seeded.overdue_ticket_id}"]').count() == 1
    # In English, the same call reads "follow-up".
    await page.goto(url(server, f"/lang/en?next=/calls?{DAY}"))
    assert await row_of(page, outbound["follow_up"]).locator("td.purpose").inner_text() == "follow-up"
    await context.close()


async def shown_sids(page) -> set[str]:
    hrefs = await page.locator("#call-log tbody tr td:first-child a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return {h.removeprefix("/calls/") for h in hrefs}


async def test_the_staff_filter_tells_who_answered_from_whom_it_rang(browser, site):
    """`hunt` rang 王芳 first (no answer), then 李强, who answered; `gone` rang only 王芳,
    and the caller gave up; `quick` and `early2` 王芳 answered herself."""
    server, seeded, _ = site
    wang = seeded.staff["王芳"].id
    month = "from=2026-11-01&to=2026-11-30"
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    calls = seeded.calls
    await page.goto(url(server, f"/calls?{month}&staff={wang}&staff_as=rang"))
    assert await shown_sids(page) == {calls["quick"], calls["hunt"], calls["gone"], calls["early2"]}
    await page.goto(url(server, f"/calls?{month}&staff={wang}&staff_as=answered"))
    assert await shown_sids(page) == {calls["quick"], calls["early2"]}
    await page.goto(url(server, f"/calls?{month}&staff={wang}&staff_as=missed"))
    assert await shown_sids(page) == {calls["hunt"], calls["gone"]}
    # With a person and no staff_as, the log lists the calls they answered.
    await page.goto(url(server, f"/calls?{month}&staff={wang}"))
    assert await shown_sids(page) == {calls["quick"], calls["early2"]}
    assert await page.locator("select[name=staff_as]").input_value() == "answered"
    # The form's select: 振铃过 (rang) brings 李强's hunt call back.
    await page.select_option("select[name=staff_as]", label="振铃过")
    await page.click("#call-filters button[type=submit]")
    await page.wait_for_load_state()
    assert parse_qs(urlparse(page.url).query)["staff_as"] == ["rang"]
    assert calls["hunt"] in await shown_sids(page)
    labels = await page.locator("select[name=staff_as] option").all_inner_texts()
    assert labels == ["接听人", "振铃过", "未接"]
    # The export follows the same filter.
    response = await context.request.get(
        url(server, f"/exports/calls.csv?{month}&staff={wang}&staff_as=missed"))
    text = (await response.body()).decode("utf-8-sig")
    assert calls["hunt"] in text and calls["gone"] in text and calls["quick"] not in text
    # A value outside the agreement is refused, not guessed at.
    response = await context.request.get(url(server, f"/calls?staff={wang}&staff_as=sometimes"))
    assert response.status == 400
    await context.close()
