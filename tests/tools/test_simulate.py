"""`ivr simulate`: the terminal phone against the real server over HTTP, prompts answered here.

The server runs in-process on a loopback port and checks every signature against
`PUBLIC_BASE_URL`, while the simulator sends to 127.0.0.1: a call only gets through if
the simulator signs the public URL, as Twilio does.
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.people.users import add_user, create_token
from ivr.tools.simulator import ConsoleTerminal, simulate
from models import Call, CallEvent, Leg, Ticket

DAY = [("王小姐", "13800000001", "客服部", "07:00-14:00;14:00-21:00"),
       ("李先生", "13800000002", "客服部", "07:00-21:00"),
       ("赵师傅", "13800000009", "值班", "21:00-07:00")]


class Answers:
    """A terminal whose prompts are answered from per-kind queues; it keeps every line."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {kind: list(values) for kind, values in answers.items()}
        self.lines: list[str] = []
        self.asked: list[str] = []

    def show(self, text: str) -> None:
        self.lines.append(text)

    def ask(self, kind: str, question: str, default: str = "") -> str:
        self.asked.append(kind)
        queue = self.answers.get(kind)
        assert queue, f"unexpected prompt {kind}: {question}"
        return queue.pop(0)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
async def server(aiohttp_server, settings, clock):
    return await aiohttp_server(create_app(settings, clock=clock))


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def test_a_call_answered_on_the_second_ring(server, settings, clock, seed, token, sessions):
    await seed.staff(DAY)
    await seed.residents([("李阿姨", "13900000001", "阳光花园3栋2单元501", "0")])
    phone = Answers(keys=["0"], answers=["y"], ring_seconds=["7"], screen_keys=["1"],
                    talk_seconds=["90"])
    record = await simulate(settings=settings, url=str(server.make_url("")),
                            from_number="+8613900000001", token=token, terminal=phone,
                            start=clock())

    # What the caller and the staff phone heard, in order.
    assert "阳光花园物业客服中心" in phone.text and "阳光花园3栋2单元501" in phone.text
    assert "人工客服请按0" in phone.text and "请稍等" in phone.text
    assert "接听请按1" in phone.text and "我姓某，有什么可以帮到您" in phone.text
    assert phone.asked == ["keys", "answers", "ring_seconds", "screen_keys", "talk_seconds"]

    # The record, read back through /api/calls, and shown to the user.
    assert record["outcome"] == "answered" and record["menu_choice"] == "person"
    [leg] = record["legs"]
    assert leg["staff"] == "王小姐" and leg["phone"] == "+8613800000001"
    assert leg["ring_seconds"] == 7 and leg["rings"] == 2
    assert leg["answered"] is True and leg["within_three_rings"] is True
    assert "王小姐 +8613800000001  响铃 7 秒 = 2 声" in phone.text
    assert "三声以内 within three rings ✓" in phone.text

    # Simulated time, not wall time: the timestamps Twilio would have sent.
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == record["sid"]))
        stored = await session.scalar(select(Leg).where(Leg.call_id == call.id))
        events = (await session.scalars(select(CallEvent).where(
            CallEvent.call_sid == stored.sid, CallEvent.kind == "leg-status")
            .order_by(CallEvent.sequence_number))).all()
    assert (stored.answered_at - stored.ringing_at) == timedelta(seconds=7)
    assert stored.ringing_at - clock() > timedelta(seconds=20)  # greeting and menu heard first
    assert [e.params["CallStatus"] for e in events] == ["initiated", "ringing", "in-progress",
                                                        "completed"]
    assert [e.sequence_number for e in events] == [0, 1, 2, 3]
    assert call.duration_seconds == round((call.ended_at - call.started_at).total_seconds())
    assert call.ended_at - stored.answered_at >= timedelta(seconds=90)


async def test_nobody_answers_and_a_message_is_left(server, settings, clock, seed, sessions):
    await seed.staff(DAY)
    # Typed answers on a stream: 0 for a person; the first phone would answer after 18 s
    # of ringing, past the Dial timeout (18 s from the start of the attempt, 1 s of it
    # set-up), so it is a no-answer; the second never answers; then a 15-second message.
    # No token: the record is read from the database.
    keyboard = io.StringIO("0\ny\n18\nn\ny\n15\n")
    screen = io.StringIO()
    record = await simulate(settings=settings, url=str(server.make_url("")),
                            from_number="+8613900000077", token=None,
                            terminal=ConsoleTerminal(keyboard, screen), start=clock())
    out = screen.getvalue()
    assert "超过 Dial timeout 18 秒: 无人接听 no-answer" in out
    assert "对不起，让您久等了" in out and "请在提示音后留下您的姓名" in out
    assert "留言 15 秒 recorded 15 s" in out
    assert "您的留言已记录" in out

    assert record["outcome"] == "message"
    assert [leg["staff"] for leg in record["legs"]] == ["王小姐", "李先生"]
    assert all(leg["answered"] is False and leg["ring_seconds"] is None
               and leg["within_three_rings"] is False for leg in record["legs"])
    assert [leg["status"] for leg in record["legs"]] == ["no-answer", "no-answer"]
    [ticket] = record["tickets"]
    assert ticket["category"] == "callback" and "留言 15 秒" in ticket["description"]
    assert f"工单 ticket {ticket['number']}  callback" in out

    async with sessions() as session:
        stored = await session.scalar(select(Ticket).where(Ticket.call_sid == record["sid"]))
        legs = (await session.scalars(select(Leg).order_by(Leg.id))).all()
    assert stored.recording_url.startswith("https://api.twilio.com/")
    # Each phone rang for the whole Dial timeout less the set-up, by the simulated timestamps.
    assert [(leg.completed_at - leg.initiated_at).total_seconds() for leg in legs] == [18, 18]
    assert [(leg.completed_at - leg.ringing_at).total_seconds() for leg in legs] == [17, 17]


async def test_a_phone_answered_after_14_seconds_of_ringing_is_answered_within_three_rings(
        server, settings, clock, seed, token):
    """The third ring starts at 10 s and lasts until 15 s: picking up at 14 s is in time.
    The old `<Dial timeout>` of 10 s (three rings less a 5 s buffer that Twilio adds only
    to REST-created calls) cut that person off and rang the next phone."""
    await seed.staff(DAY)
    phone = Answers(keys=["0"], answers=["y"], ring_seconds=["14"], screen_keys=["1"],
                    talk_seconds=["60"])
    record = await simulate(settings=settings, url=str(server.make_url("")),
                            from_number="+8613900000001", token=token, terminal=phone,
                            start=clock())
    assert "超过 Dial timeout" not in phone.text
    assert record["outcome"] == "answered"
    [leg] = record["legs"]
    assert leg["staff"] == "王小姐" and leg["answered"] is True
    assert leg["ring_seconds"] == 14 and leg["rings"] == 3 and leg["within_three_rings"] is True


async def test_the_caller_hanging_up_while_it_rings_is_an_abandoned_call(server, settings, clock,
                                                                         seed):
    await seed.staff(DAY)
    phone = Answers(keys=["2"], answers=["h"], hangup_seconds=["6"])
    record = await simulate(settings=settings, url=str(server.make_url("")),
                            from_number="+8613900000078", terminal=phone, start=clock())
    assert record["outcome"] == "abandoned" and record["menu_choice"] == "complaint"
    assert record["legs"][0]["status"] == "canceled"
    assert [t["category"] for t in record["tickets"]] == ["complaint"]  # still a complaint
    assert "主叫挂机 caller hangs up while it rings" in phone.text


async def test_an_unsigned_simulator_is_refused(server, settings, clock, seed):
    from ivr.tools.simulator import SimulationError

    wrong = settings.model_copy(update={"twilio_auth_token": "not-the-servers-token"})
    with pytest.raises(SimulationError, match="403"):
        await simulate(settings=wrong, url=str(server.make_url("")), from_number="+8613900000079",
                       terminal=Answers(), start=clock())


def test_simulate_says_in_one_line_when_no_server_listens(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "simulate", "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "cannot reach the server at http://127.0.0.1:9" in done.stderr


async def test_words_typed_at_a_gather_are_spoken_to_the_hotline(server, settings, clock, seed, token):
    await seed.staff(DAY)
    phone = Answers(keys=["楼上装修太吵了"], answers=["y"], ring_seconds=["4"], screen_keys=["1"],
                    talk_seconds=["30"])
    record = await simulate(settings=settings, url=str(server.make_url("")),
                            from_number="+8613900000001", token=token, terminal=phone,
                            start=clock())
    assert "说 said: 楼上装修太吵了" in phone.text and "谢谢您的批评指正" in phone.text
    assert record["menu_choice"] == "complaint" and record["outcome"] == "answered"
    assert record["speech"] == {"text": "楼上装修太吵了", "confidence": 0.92, "choice": "complaint"}
