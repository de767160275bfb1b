"""`kill -9` under load: every webhook that received a 200 is in the database."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
from sqlalchemy import select

from models import CallEvent
from tests.server_process import ServerProcess
from tests.twilio_client import AUTH_TOKEN, HOTLINE, PUBLIC_BASE, Twilio, new_sid


async def test_kill_9_loses_no_acknowledged_webhook(tmp_path, database_url, sessions):
    server = ServerProcess({
        "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE, "COMPANY_NAME": "阳光花园", "HOTLINE_NUMBER": HOTLINE,
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"), "IVR_LOG_LEVEL": "WARNING",
    }, tmp_path).start()
    await server.wait_ready()
    signer = Twilio(client=None)
    acknowledged: list[str] = []
    tokens = itertools.count()
    stop = asyncio.Event()
    loaded = asyncio.Event()  # 200 webhooks acknowledged: time for the kill

    async def one_caller(http: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            sid = new_sid()
            for path, extra in (("/twilio/voice", {}), ("/twilio/menu", {"Digits": "7"}),
                                ("/twilio/menu", {"Digits": "*"}),
                                ("/twilio/status", {"CallStatus": "completed", "CallDuration": "30"})):
                params = {"CallSid": sid, "From": "+8613900000001", "To": HOTLINE,
                          "CallStatus": "in-progress", "Direction": "inbound", **extra}
                token = f"tok-{next(tokens)}"
                headers = {"X-Twilio-Signature": signer.sign(path, params),
                           "I-Twilio-Idempotency-Token": token}
                try:
                    async with http.post(server.url + path, data=params, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 200:
                            acknowledged.append(token)
                            if len(acknowledged) >= 200:
                                loaded.set()
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    return

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        callers = [asyncio.create_task(one_caller(http)) for _ in range(20)]
        await asyncio.wait_for(loaded.wait(), 120)
        server.kill()
        stop.set()
        await asyncio.gather(*callers)

    async with sessions() as session:
        stored = set((await session.scalars(select(CallEvent.dedupe_key))).all())
    missing = [t for t in acknowledged if f"idem:{t}" not in stored]
    assert len(acknowledged) >= 200
    assert missing == []
