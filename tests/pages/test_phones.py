"""Every page on a phone (390 px wide, headless Chromium): nothing scrolls sideways, tables
are stacked cards with their column labels, the header wraps; and the favicon is served.

The pages are read from the running router, so a page added later is walked too.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ivr.calls import notices
from ivr.outbound import campaigns
from tests.pages.test_access import routes
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)

PHONE = {"width": 390, "height": 844}
# Not pages: streams, downloads, redirects and the icon.
NOT_PAGES = re.compile(r"^/(api|twilio)/|/events$|\.\{fmt|^/lang/|^/healthz$|^/favicon\.ico$")


def pages_of(app, values: dict[str, str]) -> list[str]:
    """Every GET page of the router, its `{…}` filled from `values`."""
    found = []
    for method, path, _ in routes(app):
        if method != "GET" or NOT_PAGES.search(path):
            continue
        found.append(re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], path))
    return found


async def with_a_campaign_and_a_notice(sessions, settings, clock) -> int:
    async with sessions() as session, session.begin():
        campaign = await campaigns.start(session, settings=settings, now=clock(), created_by="主管")
        await notices.add(session, where="阳光花园3栋", text="停水检修，预计下午恢复供水",
                          until=clock() + timedelta(hours=6), actor="主管", now=clock())
    return campaign.id


async def too_wide(page) -> int | None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    return width if width > PHONE["width"] else None


async def test_no_page_scrolls_sideways_at_390_px(browser, site, sessions, settings, clock):
    server, seeded = site
    campaign = await with_a_campaign_and_a_notice(sessions, settings, clock)
    paths = pages_of(server.app, {"sid": seeded.calls["hunt"], "id": "0"})
    assert {"/", "/login", "/desk", "/wall", "/calls", "/tickets", "/reports", "/admin",
            "/campaigns"} <= set(paths)
    # The pages with an id: a real one each (a call, a ticket, a campaign).
    paths = [p for p in paths if not p.endswith("/0")] + [
        f"/tickets/{seeded.overdue_ticket_id}", f"/campaigns/{campaign}",
        "/calls?from=2026-11-01&to=2026-11-30", "/tickets?from=2026-11-01&to=2026-11-30"]
    overflowing = {}
    anonymous = await browser.new_context(viewport=PHONE)
    page = await anonymous.new_page()
    await page.goto(url(server, "/login"))
    overflowing[("nobody", "/login")] = await too_wide(page)
    await anonymous.close()
    for name, password in (("管理员", "admin-pass-1"), ("主管", "supervisor-pass"),
                           ("liqiang", "staff-pass-2")):
        context, page = await logged_in(browser, server, name, password)
        await page.set_viewport_size(PHONE)
        for path in paths:
            response = await page.goto(url(server, path))
            assert response.status < 500, (name, path)
            overflowing[(name, path)] = await too_wide(page)
        await context.close()
    assert {k: v for k, v in overflowing.items() if v} == {}
    assert len(overflowing) >= 1 + 3 * 13


async def test_a_table_is_a_stack_of_labelled_cards_on_a_phone(browser, site):
    server, seeded = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.set_viewport_size(PHONE)
    await page.goto(url(server, "/calls?from=2026-11-01&to=2026-11-30"))
    row = page.locator("main table tbody tr").first
    cells = row.locator("td")
    assert await cells.count() >= 4
    boxes = [await cells.nth(i).bounding_box() for i in range(await cells.count())]
    visible = [b for b in boxes if b and b["height"] > 0]
    # One above the other, each as wide as the card: a column, not a row.
    for above, below in zip(visible, visible[1:]):
        assert below["y"] >= above["y"] + above["height"] - 1
        assert abs(below["x"] - above["x"]) < 1
    assert visible[0]["width"] > 300
    # Each cell says which column it is, before its value.
    label = await cells.first.evaluate("td => getComputedStyle(td, '::before').content")
    heading = await page.locator("main table thead th").first.inner_text()
    assert label == f'"{heading}"'
    assert not await page.locator("main table thead").first.is_visible() or \
        (await page.locator("main table thead").first.bounding_box())["height"] <= 1
    # On a desktop the same table is a table again: cells side by side.
    await page.set_viewport_size({"width": 1280, "height": 900})
    first, second = [await cells.nth(i).bounding_box() for i in (0, 1)]
    assert second["x"] > first["x"] and abs(second["y"] - first["y"]) < 1
    await context.close()


async def test_the_header_wraps_inside_the_screen(browser, site):
    server, _ = site
    context, page = await logged_in(browser, server, "管理员", "admin-pass-1")
    await page.set_viewport_size(PHONE)
    await page.goto(url(server, "/"))
    assert await page.evaluate("document.querySelector('header.top').scrollWidth") <= PHONE["width"]
    lines = set()
    for link in await page.locator("header.top a, header.top button").all():
        box = await link.bounding_box()
        name = await link.inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
        assert box["height"] < 30, name  # each link on one line, not squeezed letter by letter
        lines.add(round(box["y"]))
    assert len(lines) >= 2  # the links wrapped onto more lines
    await context.close()


async def test_the_favicon_is_served_and_linked(browser, site, client):
    server, _ = site
    response = await client.get("/favicon.ico")
    assert response.status == 200 and response.headers["Content-Type"] == "image/x-icon"
    assert (await response.read())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url(server, "/login"))
    for href in await page.eval_on_selector_all("link[rel=icon]", "ls => ls.map(l => l.href)"):
        assert (await context.request.get(href)).status == 200, href
    assert await page.locator("link[rel=icon]").count() >= 1
    await context.close()
