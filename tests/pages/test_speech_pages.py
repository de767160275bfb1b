"""What callers said, where supervisors read it: the call page and the dashboard (Chromium)."""

from __future__ import annotations

from sqlalchemy import update

from models import Call
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)


async def test_the_call_page_shows_the_words_and_the_dashboard_counts_who_spoke(browser, site,
                                                                                sessions):
    server, seeded = site
    async with sessions() as session, session.begin():
        await session.execute(update(Call).where(Call.sid == seeded.calls["hunt"]).values(
            speech_text="楼上装修太吵了<script>", speech_confidence=0.87, speech_choice="complaint"))
        await session.execute(update(Call).where(Call.sid == seeded.calls["quick"]).values(
            speech_text="嗯", speech_confidence=0.4, speech_choice=None))
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    spoke = await page.inner_text('td[data-speech="spoke"][data-period="today"]')
    understood = await page.inner_text('td[data-speech="understood"][data-period="today"]')
    assert (spoke, understood) == ("2", "1")

    await page.goto(url(server, f"/calls/{seeded.calls['hunt']}"))
    assert await page.inner_text("#speech") == "“楼上装修太吵了<script>”（识别置信度 0.87）"
    await context.close()
