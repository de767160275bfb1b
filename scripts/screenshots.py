"""The README's screenshots: the wallboard (1920×1080), the dashboard (1280 wide, whole
page) and the call log on a phone (390×844), saved to docs/screenshots/ as PNG.

    .venv/bin/python scripts/screenshots.py

One command, nothing to set up: `ivr demo` fills a temporary SQLite database, the real
server (`ivr serve`) runs on it on a free loopback port, a few calls are played as Twilio
plays them (signed webhooks, the phones' progress events with their Timestamps) so the
wallboard has callers talking, ringing, waiting in line and in the menu, and Debian's
Chromium, driven by Playwright, takes the pictures. Without a Chinese font on the machine
the pages would show boxes, so one (fonts-wqy-zenhei, fetched with `apt-get download`, no
root) is then given to this Chromium alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.tools.simulator import Twilio, TwiML, call_params, leg_params, new_sid, progress_params  # noqa: E402
from tests.pages_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.server_process import ServerProcess, free_port  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
HOTLINE = "+862161234567"
FONT_PACKAGE = "fonts-wqy-zenhei"
FONT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ivr-screenshots"
MAX_CALLS = 16  # more callers than a shift has staff, so one waits in line


def ivr(env: dict, cwd: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ivr.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ivr {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def font_environment() -> dict[str, str]:
    """The browser's environment: as it is when a Chinese font is installed, else with a
    fontconfig file that adds one unpacked from Debian's package into a cache folder."""
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    if found.stdout.strip():
        return dict(os.environ)
    fonts = FONT_CACHE / "fonts"
    if not any(fonts.rglob("*.tt[cf]")):
        FONT_CACHE.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["apt-get", "download", FONT_PACKAGE], cwd=FONT_CACHE, check=True,
                           capture_output=True)
            package = next(FONT_CACHE.glob(f"{FONT_PACKAGE}_*.deb"))
            subprocess.run(["dpkg", "-x", str(package), str(fonts)], check=True)
        except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
            print(f"no Chinese font ({exc}); install one: apt-get install -y {FONT_PACKAGE}",
                  file=sys.stderr)
            return dict(os.environ)
    config = FONT_CACHE / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{fonts}</dir><cachedir>{FONT_CACHE / 'fontconfig'}</cachedir></fontconfig>",
        encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(config)}


class Calls:
    """Callers and staff phones, played against the server the way Twilio plays them."""

    def __init__(self, twilio: Twilio) -> None:
        self.twilio = twilio

    async def dial_in(self, phone: str) -> tuple[str, TwiML]:
        sid = new_sid()
        return sid, await self.twilio.post("/twilio/voice", call_params(
            sid=sid, from_number=phone, to_number=HOTLINE, status="ringing"))

    async def ask_for_a_person(self, sid: str, phone: str, menu: TwiML) -> TwiML:
        gather = menu.find("Gather")
        answer = await self.twilio.follow(gather.get("action"), call_params(
            sid=sid, from_number=phone, to_number=HOTLINE, Digits="0"))
        redirect = answer.find("Redirect")
        if answer.find("Dial") is None and redirect is not None:  # to the line's hold
            answer = await self.twilio.follow(redirect.text, call_params(
                sid=sid, from_number=phone, to_number=HOTLINE))
        return answer

    async def ring(self, sid: str, dial: TwiML, *, answer: bool) -> None:
        number = dial.find("Dial").find("Number")
        leg = leg_params(sid=new_sid(), parent_sid=sid, from_number=HOTLINE, to_number=number.text)
        events = ["initiated", "ringing"] + (["answered"] if answer else [])
        for n, status in enumerate(events, 1):
            await self.twilio.follow(number.get("statusCallback"), progress_params(
                leg, status=status, at=datetime.now(timezone.utc), sequence=n))
            await asyncio.sleep(1 if status == "ringing" and answer else 0)
        if answer:  # the staff member hears who is calling and presses 1
            screen = await self.twilio.follow(number.get("url"), {**leg, "CallStatus": "in-progress"})
            await self.twilio.follow(screen.find("Gather").get("action"),
                                     {**leg, "CallStatus": "in-progress", "Digits": "1"})


def resident_phones(database: Path, count: int) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT phone FROM residents ORDER BY id LIMIT ?", (count,)).fetchall()
    return [phone for (phone,) in rows]


async def play_calls(url: str, token: str, phones: list[str]) -> dict[str, int]:
    """The first caller's phone left ringing; the next callers answered, until everyone who
    could take a call is busy and a caller waits in line; one more still in the menu."""
    shown = {"ringing": 0, "talking": 0, "queued": 0, "menu": 0}
    async with aiohttp.ClientSession() as http:
        calls = Calls(Twilio(client=http, base=url, token=token, target=url))
        for n, phone in enumerate(phones[:MAX_CALLS]):
            sid, menu = await calls.dial_in(phone)
            answer = await calls.ask_for_a_person(sid, phone, menu)
            if answer.find("Dial") is None:
                shown["queued"] += 1
                break
            await calls.ring(sid, answer, answer=n > 0)
            shown["ringing" if n == 0 else "talking"] += 1
        await calls.dial_in(phones[-1])
        shown["menu"] += 1
    return shown


async def shoot(url: str, password: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                           env=font_environment())
        context = await browser.new_context(viewport={"width": 1920, "height": 1080},
                                            locale="zh-CN", timezone_id="Asia/Shanghai")
        page = await context.new_page()
        await page.goto(url + "/login?next=/wall")
        await page.fill("input[name=username]", "demo")
        await page.fill("input[name=password]", password)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#wall-link.ok")
        await page.wait_for_selector("#wall-calls tbody tr")
        await page.wait_for_timeout(1200)  # the clock and the durations tick once
        await page.screenshot(path=str(OUT / "wall.png"))
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.goto(url + "/")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone: rows as cards
        await page.goto(url + "/calls")
        await page.screenshot(path=str(OUT / "phone.png"))
        await browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ivr-screenshots-") as tmp:
        work = Path(tmp)  # also the working directory: no .env is read
        port, token = free_port(), secrets.token_hex(16)
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT),  # the server and `ivr` run this tree
               "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'ivr.db'}",
               "COMPANY_NAME": "阳光花园", "TWILIO_AUTH_TOKEN": token, "PUBLIC_BASE_URL": url,
               "IVR_JOURNAL_DIR": str(work / "journal")}
        env.pop("IVR_INSECURE_DEV", None)
        ivr(env, work, "db", "upgrade")
        printed = ivr(env, work, "demo")
        password = re.search(r"password (\S+)", printed).group(1)
        server = ServerProcess(env, cwd=work, port=port).start()
        try:
            asyncio.run(server.wait_ready())
            shown = asyncio.run(play_calls(url, token, resident_phones(work / "ivr.db", MAX_CALLS + 1)))
            print("calls on the board:", ", ".join(f"{k} {v}" for k, v in shown.items()))
            asyncio.run(shoot(url, password))
        finally:
            server.stop()
    for name in ("wall.png", "dashboard.png", "phone.png"):
        print(OUT / name)


if __name__ == "__main__":
    main()
