"""Debian's Chromium driven by Playwright, one browser per test, for every page test."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.pages_support import CHROMIUM_ARGS, chromium_or_skip


@pytest.fixture
async def browser():
    path = chromium_or_skip()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
