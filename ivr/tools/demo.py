"""Demo data: a month of a real-looking service centre, so the dashboard shows something.

Three estates, day shifts and night duty (值班), a few hundred residents (some in
arrears), a month of inbound calls ending now, with legs timed the way Twilio reports
them, their CallEvents, tickets in every state, follow-up calls (回访), and a supervisor
login. Everything follows the rules of the real flow: who rings comes from
`roster.select_on_duty`, ring time is `transfer.ring_seconds` (answered − ringing), due
times from `lifecycle.due_at_for`. The same seed and the same day give the same data.

Nothing is left for the dialer to call: every outbound job is finished, and follow-ups
still to make are manual tasks, so a demo never phones a made-up number.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.calls.transfer import ring_seconds
from ivr.outbound.jobs import in_window, next_window
from ivr.people.roster import select_on_duty
from ivr.people.users import add_user, create_token
from ivr.platform.config import Settings
from ivr.tickets.lifecycle import due_at_for, due_minutes, message_category
from ivr.tools.simulator import ACCOUNT_SID, API_VERSION, rfc2822
from models import Attempt, Call, CallEvent, Leg, OutboundJob, Resident, Staff, Ticket, TicketHistory

DEFAULT_SEED = 2026
DAYS = 30
DEMO_USER = "demo"
HOTLINE = "+862161234567"

ESTATES = (  # name, buildings, units per building, floors
    ("阳光花园", 12, 3, 18),
    ("翠湖苑", 8, 2, 11),
    ("锦绣华庭", 10, 4, 26),
)
# name, department, shifts, escalation level, habit: (mean ring s, chance to miss)
STAFF = (
    ("王晓丽", "客服部", "07:00-14:00", 1, (5.0, 0.05)),
    ("李娜", "客服部", "07:00-14:00", 1, (7.0, 0.08)),
    ("张敏", "客服部", "07:00-14:00", 1, (9.5, 0.14)),
    ("刘芳", "客服部", "14:00-21:00", 1, (5.5, 0.06)),
    ("陈静", "客服部", "14:00-21:00", 1, (8.0, 0.10)),
    ("杨洁", "客服部", "14:00-21:00", 1, (10.5, 0.18)),
    ("赵师傅", "值班", "21:00-07:00", 1, (9.0, 0.12)),
    ("孙师傅", "值班", "21:00-07:00", 1, (11.0, 0.20)),
    ("周主管", "客服部", "", 2, (6.0, 0.05)),
    ("吴经理", "管理处", "", 3, (6.0, 0.05)),
)
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
            "蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江薛")
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
         "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "玉兰", "志强",
         "海燕", "春梅", "国庆", "德福", "淑珍", "文华", "晓东", "雪梅", "立新", "子轩")
# Calls per hour of the day (local time), an ordinary weekday.
HOURLY = (0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 0.8, 2.0, 3.6, 4.0, 3.6, 3.0, 2.0, 1.8,
          2.8, 3.2, 3.0, 2.8, 2.6, 2.8, 2.4, 1.6, 0.9, 0.5)
MENU = (("person", 0.22), ("repair", 0.28), ("complaint", 0.10), ("fees", 0.20),
        ("inquiry", 0.20))
MENU_KEY = {"person": "0", "repair": "1", "complaint": "2", "fees": "3", "inquiry": "4"}
REPAIRS = ("厨房水管漏水", "卫生间下水道堵塞", "楼道灯不亮", "电梯异响", "门禁卡失灵",
           "外墙渗水", "空调冷凝水滴到楼下", "停车场道闸故障", "家里跳闸", "防盗门锁坏了")
EMERGENCIES = ("水管爆裂，家里进水", "电梯困人", "闻到燃气味", "整栋楼停电")
COMPLAINTS = ("楼上装修噪音太大", "小区垃圾清运不及时", "保安态度不好", "楼道堆放杂物",
              "宠物狗在小区随地大小便", "车位被占用", "绿化带被毁坏没人管")
INQUIRIES = ("装修手续怎么办", "物品放行条怎么开", "门禁卡补办", "停车月卡续费",
             "快递柜位置", "水电费怎么交")


class DemoError(Exception):
    """The demo data could not be written."""


class NotEmpty(DemoError):
    """The database already holds calls or people: the demo never mixes with real data."""


@dataclass
class Planned:
    """One generated call and what hangs off it, before it is written."""

    call: Call
    legs: list[Leg] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    ticket: dict | None = None


async def existing_rows(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for label, model in (("calls", Call), ("staff", Staff), ("residents", Resident),
                         ("tickets", Ticket)):
        counts[label] = await session.scalar(select(func.count()).select_from(model)) or 0
    return {k: v for k, v in counts.items() if v}


def sid(rng: random.Random, prefix: str = "CA") -> str:
    return prefix + "".join(rng.choice("0123456789abcdef") for _ in range(32))


def pick(rng: random.Random, weighted) -> str:
    names, weights = zip(*weighted)
    return rng.choices(names, weights=weights)[0]


def mobile(prefix: str, n: int) -> str:
    return f"+86{prefix}{n:08d}"


def make_staff(now: datetime) -> list[Staff]:
    return [Staff(name=name, phone=mobile("138", 10000 + i * 37), department=dept,
                  shifts=shifts, position=i, active=True, escalation_level=level,
                  updated_at=now)
            for i, (name, dept, shifts, level, _habit) in enumerate(STAFF)]


def make_residents(rng: random.Random, count: int, now: datetime) -> list[Resident]:
    """`阳光花园3栋2单元501`: unique addresses; about one in seven owes fees."""
    residents, seen = [], set()
    while len(residents) < count:
        estate, buildings, units, floors = rng.choice(ESTATES)
        address = (f"{estate}{rng.randint(1, buildings)}栋{rng.randint(1, units)}单元"
                   f"{rng.randint(1, floors)}{rng.randint(1, 4):02d}")
        if address in seen:
            continue
        seen.add(address)
        arrears = Decimal("0")
        if rng.random() < 0.15:
            months = rng.choice((1, 2, 3, 3, 6, 12))
            arrears = Decimal(str(round(rng.uniform(2.2, 3.8) * 90, 1))) * months
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        # The first resident is the number `ivr simulate` calls from by default.
        phone = mobile("139", 1 + len(residents))
        residents.append(Resident(name=name, phone=phone, address=address,
                                  arrears=arrears.quantize(Decimal("0.01")), updated_at=now))
    return residents


def call_times(rng: random.Random, *, settings: Settings, now: datetime) -> list[datetime]:
    """A month of call start times ending now, busier on weekdays and in office hours."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    moments = []
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        scale = 1.0 if day.weekday() < 5 else 0.75
        for hour, rate in enumerate(HOURLY):
            for _ in range(poisson(rng, rate * scale)):
                moment = datetime.combine(day, time(hour), tz) + timedelta(
                    seconds=rng.randint(0, 3599))
                if moment < now - timedelta(minutes=10):
                    moments.append(moment)
    return sorted(moments)


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Generator:
    """Walks each call through the real flow's steps, writing what the webhooks would."""

    def __init__(self, rng: random.Random, settings: Settings, staff: list[Staff],
                 residents: list[Resident]) -> None:
        self.rng = rng
        self.settings = settings
        self.staff = staff
        self.habits = {s.id: STAFF[i][4] for i, s in enumerate(staff)}
        self.residents = residents
        self.hotline = settings.hotline_number or HOTLINE
        self.busy_until: dict[int, datetime] = {}  # a phone on another call answers busy

    def event(self, plan: Planned, kind: str, at: datetime, params: dict,
              stamp: bool = False) -> None:
        params = {k: str(v) for k, v in params.items()}
        if stamp:
            params["Timestamp"] = rfc2822(at)
            params["CallbackSource"] = "call-progress-events"
        plan.events.append({
            "call_sid": params["CallSid"], "kind": kind, "dedupe_key": None,
            "twilio_timestamp": at if stamp else None,
            "sequence_number": int(params["SequenceNumber"]) if "SequenceNumber" in params else None,
            "received_at": at, "params": params, "response": None,
        })

    def base(self, call: Call, **extra) -> dict:
        return {"CallSid": call.sid, "AccountSid": ACCOUNT_SID, "From": call.from_number,
                "To": call.to_number, "CallStatus": "in-progress", "Direction": "inbound",
                "ApiVersion": API_VERSION, **extra}

    def plan_call(self, start: datetime) -> Planned:
        rng = self.rng
        known = rng.random() < 0.82
        resident = rng.choice(self.residents) if known else None
        phone = resident.phone if resident else mobile(rng.choice(("135", "186", "159")),
                                                        rng.randint(0, 99999999))
        call = Call(sid=sid(rng), direction="inbound", from_number=phone, to_number=self.hotline,
                    resident_id=resident.id if resident else None,
                    language="en" if rng.random() < 0.03 else "zh", status="completed",
                    started_at=start)
        plan = Planned(call)
        self.event(plan, "voice", start, self.base(call, CallStatus="ringing"))
        t = start + timedelta(seconds=rng.uniform(14, 22))  # greeting and menu heard
        if rng.random() < 0.06:  # a wrong key first, explained, the menu again
            call.invalid_inputs = 1
            self.event(plan, "menu", t, self.base(call, Digits=str(rng.choice((5, 6, 7, 8)))))
            t += timedelta(seconds=rng.uniform(10, 14))
        choice = pick(rng, MENU)
        self.event(plan, "menu", t, self.base(call, Digits=MENU_KEY[choice]))
        call.menu_choice = choice
        if choice == "repair":
            t += timedelta(seconds=rng.uniform(8, 12))
            emergency = rng.random() < 0.15
            call.menu_choice = "emergency" if emergency else "repair"
            self.event(plan, "repair", t, self.base(call, Digits="1" if emergency else "2"))
        if choice == "fees" and resident is not None and rng.random() < 0.75:
            call.outcome = "self_service"  # heard the arrears on record, hung up
            self.finish(plan, t + timedelta(seconds=rng.uniform(15, 40)))
            return plan
        call.transfer_requested_at = t
        self.hunt(plan, t, duty_only=call.menu_choice == "emergency")
        return plan

    def hunt(self, plan: Planned, t: datetime, *, duty_only: bool) -> None:
        rng, settings, call = self.rng, self.settings, plan.call
        on_duty = select_on_duty(self.staff, settings=settings, now=t, duty_only=duty_only)
        abandon_after = rng.uniform(5, 30) if rng.random() < 0.06 else None
        waited_from = None
        for attempt, staff in enumerate(on_duty[: settings.max_hunt], 1):
            t += timedelta(seconds=rng.uniform(1.5, 4))  # 请稍等 / 对不起，让您久等了
            leg = Leg(call_id=0, staff_id=staff.id, staff_name=staff.name, phone=staff.phone,
                      attempt=attempt, created_at=t, sid=sid(rng))
            plan.legs.append(leg)
            leg.initiated_at = t + timedelta(seconds=rng.uniform(0.2, 0.8))
            leg.ringing_at = leg.initiated_at + timedelta(seconds=rng.uniform(0.8, 2.5))
            waited_from = waited_from or leg.initiated_at
            mean, miss = self.habits[staff.id]
            # Twilio stops the phone at the Dial timeout plus its own few seconds.
            cutoff = settings.dial_timeout + rng.uniform(4.0, 7.5)
            ring = max(1.0, rng.gauss(mean, 3.5))
            answers = rng.random() >= miss and ring <= cutoff
            seq = 0
            leg_base = {"CallSid": leg.sid, "ParentCallSid": call.sid, "AccountSid": ACCOUNT_SID,
                        "From": call.to_number, "To": staff.phone, "Direction": "outbound-dial",
                        "ApiVersion": API_VERSION}
            for status, at in (("initiated", leg.initiated_at), ("ringing", leg.ringing_at)):
                self.event(plan, "leg-status", at, {**leg_base, "CallStatus": status,
                                                    "SequenceNumber": seq}, stamp=True)
                seq += 1
            if self.busy_until.get(staff.id, t) > t:
                end = leg.initiated_at + timedelta(seconds=rng.uniform(0.5, 1.5))
                leg.ringing_at = None
                plan.events.pop()  # a busy phone never rings: no ringing event
                self.close_leg(plan, leg, leg_base, seq - 1, "busy", end)
                leg.dial_status = "busy"
                self.event(plan, "dial-result", end, self.base(
                    call, DialCallStatus="busy", DialCallSid=leg.sid, DialBridged="false"))
                t = end
                continue
            waited = (leg.ringing_at - waited_from).total_seconds()
            if abandon_after is not None and waited + (ring if answers else cutoff) > abandon_after:
                end = leg.ringing_at + timedelta(seconds=max(1.0, abandon_after - waited))
                self.close_leg(plan, leg, leg_base, seq, "canceled", end)
                leg.dial_status = "canceled"
                self.event(plan, "dial-result", end, self.base(
                    call, CallStatus="completed", DialCallStatus="canceled", DialCallSid=leg.sid,
                    DialBridged="false"))
                call.outcome = "abandoned"
                call.waited_seconds = max(0, round((end - waited_from).total_seconds()))
                self.finish(plan, end)
                plan.ticket = {"category": message_category(call), "at": end, "message": True,
                               "description": f"放弃来电：等待 {call.waited_seconds} 秒后挂机"}
                return
            if not answers:
                end = leg.ringing_at + timedelta(seconds=cutoff)
                self.close_leg(plan, leg, leg_base, seq, "no-answer", end)
                leg.dial_status = "no-answer"
                self.event(plan, "dial-result", end, self.base(
                    call, DialCallStatus="no-answer", DialCallSid=leg.sid, DialBridged="false"))
                t = end
                continue
            leg.answered_at = leg.ringing_at + timedelta(seconds=ring)
            leg.ring_seconds = ring_seconds(leg)
            self.event(plan, "leg-status", leg.answered_at, {**leg_base, "CallStatus": "in-progress",
                                                            "SequenceNumber": seq}, stamp=True)
            seq += 1
            self.event(plan, "screen", leg.answered_at, {**leg_base, "CallStatus": "in-progress"})
            if rng.random() < 0.03:  # the phone's own voicemail: nobody presses 1
                end = leg.answered_at + timedelta(seconds=settings.gather_timeout_seconds + 6)
                self.close_leg(plan, leg, leg_base, seq, "completed", end)
                leg.dial_status = "completed"
                self.event(plan, "dial-result", end, self.base(
                    call, DialCallStatus="completed", DialCallSid=leg.sid, DialBridged="false"))
                t = end
                continue
            leg.accepted = True
            leg.accepted_at = leg.answered_at + timedelta(seconds=rng.uniform(3, 6))
            self.event(plan, "screen-answer", leg.accepted_at,
                       {**leg_base, "CallStatus": "in-progress", "Digits": "1"})
            talk = rng.uniform(30, 300)
            end = leg.accepted_at + timedelta(seconds=talk)
            self.close_leg(plan, leg, leg_base, seq, "completed", end)
            leg.dial_status, leg.bridged = "completed", True
            self.event(plan, "dial-result", end, self.base(
                call, DialCallStatus="completed", DialCallSid=leg.sid, DialBridged="true",
                DialCallDuration=round((end - leg.answered_at).total_seconds())))
            call.outcome = "answered"
            call.answered_by_staff_id = staff.id
            self.busy_until[staff.id] = end + timedelta(seconds=rng.uniform(10, 60))
            self.finish(plan, end + timedelta(seconds=1))
            plan.ticket = self.ticket_for_answered(call, leg.accepted_at, staff)
            return
        # Nobody took it: the message prompt.
        t += timedelta(seconds=rng.uniform(10, 14))
        if rng.random() < 0.6:
            length = rng.randint(8, 45)
            t += timedelta(seconds=length + 1)
            recording = f"https://api.twilio.com/{API_VERSION}/Accounts/{ACCOUNT_SID}/Recordings/{sid(rng, 'RE')}"
            self.event(plan, "message", t, self.base(call, RecordingUrl=recording,
                                                    RecordingDuration=length, Digits="#"))
            call.outcome = "message"
            plan.ticket = {"category": message_category(call), "at": t, "message": True,
                           "description": f"留言 {length} 秒", "recording_url": recording}
        else:
            t += timedelta(seconds=6)
            self.event(plan, "message", t, self.base(call))
            call.outcome = "missed"
            plan.ticket = {"category": message_category(call), "at": t, "message": True,
                           "description": "未接来电：无人接听，未留言"}
        self.finish(plan, t + timedelta(seconds=4))

    def close_leg(self, plan: Planned, leg: Leg, base: dict, seq: int, status: str,
                  end: datetime) -> None:
        leg.completed_at = end
        leg.status, leg.status_sequence = status, seq
        duration = round((end - leg.answered_at).total_seconds()) if leg.answered_at else 0
        self.event(plan, "leg-status", end, {**base, "CallStatus": status, "SequenceNumber": seq,
                                             "CallDuration": duration}, stamp=True)

    def finish(self, plan: Planned, end: datetime) -> None:
        call = plan.call
        call.ended_at = end
        call.duration_seconds = max(1, round((end - call.started_at).total_seconds()))
        call.started_at = end - timedelta(seconds=call.duration_seconds)
        call.status, call.status_sequence = "completed", 0
        call.outcome = call.outcome or "ivr"
        self.event(plan, "status", end, self.base(call, CallStatus="completed", SequenceNumber=0,
                                                  CallDuration=call.duration_seconds), stamp=True)

    def ticket_for_answered(self, call: Call, at: datetime, staff: Staff) -> dict | None:
        rng = self.rng
        choice = call.menu_choice
        if choice == "emergency":
            return {"category": "emergency", "at": at, "description": rng.choice(EMERGENCIES),
                    "owner": staff.id}
        if choice == "repair" or (choice == "person" and rng.random() < 0.3):
            return {"category": "repair", "at": at, "description": rng.choice(REPAIRS),
                    "owner": staff.id}
        if choice == "complaint":
            return {"category": "complaint", "at": at, "description": rng.choice(COMPLAINTS),
                    "owner": staff.id}
        if choice in ("inquiry", "person") and rng.random() < 0.25:
            return {"category": "inquiry", "at": at, "description": rng.choice(INQUIRIES),
                    "owner": staff.id}
        return None


def lifecycle(rng: random.Random, ticket: Ticket, *, settings: Settings, now: datetime,
              supervisor: Staff | None) -> list[tuple[datetime, str, str, str]]:
    """Moves a ticket along open → … → closed as far as its age allows; returns history."""
    created = ticket.created_at
    age_h = (now - created).total_seconds() / 3600
    owner = ticket.owner_staff_id
    history = [(created, "hotline", "created", f"{ticket.category}: {ticket.description}")]
    roll = rng.random()
    # How far it has got, by age: recent tickets are still being worked on.
    if age_h < 4:
        stage = "open" if roll < 0.45 else "assigned" if roll < 0.8 else "in_progress"
    elif age_h < 30:
        stage = ("open" if roll < 0.08 else "assigned" if roll < 0.25 else
                 "in_progress" if roll < 0.5 else "resolved" if roll < 0.85 else "followed_up")
    else:
        stage = ("assigned" if roll < 0.02 else "in_progress" if roll < 0.05 else
                 "resolved" if roll < 0.09 else "followed_up" if roll < 0.35 else "closed")
    if ticket.category in ("callback", "inquiry") and stage == "followed_up":
        stage = "closed"  # nothing to survey: called back or answered, then closed
    if ticket.category == "emergency" and stage in ("open", "assigned", "in_progress"):
        stage = "resolved"  # emergencies are dealt with on the spot, within the half hour
    t = created
    actor = "周主管" if supervisor else "客服"

    def step(hours_lo: float, hours_hi: float) -> datetime:
        nonlocal t
        t = min(now - timedelta(minutes=5), t + timedelta(hours=rng.uniform(hours_lo, hours_hi)))
        return t

    order = ("open", "assigned", "in_progress", "resolved", "followed_up", "closed")
    target = order.index(stage)
    if target >= 1:
        history.append((step(0.1, 1.0), actor, "status", "open → assigned"))
    if target >= 2:
        history.append((step(0.2, 2.0), actor, "status", "assigned → in_progress"))
    if target >= 3:
        ticket.resolved_at = step(0.5, 20 if ticket.category != "emergency" else 1.5)
        history.append((t, actor, "status", "in_progress → resolved"))
        if ticket.category in ("repair", "complaint", "emergency"):
            ticket.follow_up_due_at = ticket.resolved_at + timedelta(hours=48)
            ticket.follow_up_status = "manual"  # the demo leaves no call for the dialer
    surveyed = ticket.category in ("repair", "complaint", "emergency")
    if target >= 4 and surveyed:
        # the dialer calls only inside calling hours, within 48 hours of the resolution
        called = dialled_at(rng, "follow_up", t + timedelta(hours=rng.uniform(1, 26)),
                            settings=settings)
        if called > now - timedelta(minutes=5) or called - ticket.resolved_at > timedelta(hours=48):
            target, stage = 3, "resolved"  # not called yet: the follow-up is still to make
    if target >= 4 and surveyed:
        answer = rng.random()
        t = ticket.followed_up_at = called
        ticket.follow_up_status = "answered"
        ticket.satisfaction = ("satisfied" if answer < 0.8 else "neutral" if answer < 0.93
                               else "dissatisfied")
        history.append((t, "回访电话", "follow_up_answer", ticket.satisfaction))
        if ticket.satisfaction == "dissatisfied":
            ticket.status = "reopened"
            ticket.escalation_level = 2
            ticket.escalated_at = t
            ticket.owner_staff_id = supervisor.id if supervisor else owner
            history.append((t, "回访电话", "status", "resolved → reopened: 回访不满意"))
            history.append((t, "回访电话", "escalated", "住户回访不满意，升级至第 2 级"))
            ticket.due_at = t + timedelta(minutes=due_minutes(ticket.category, settings=settings))
            history += escalations(ticket, settings=settings, now=now)
            return history
        history.append((t, "回访电话", "status", "resolved → followed_up"))
    if target >= 5:
        ticket.closed_at = step(1, 24)
        previous = "followed_up" if surveyed and ticket.followed_up_at else "resolved"
        history.append((t, actor, "status", f"{previous} → closed"))
    ticket.status = stage
    if stage in ("open", "assigned", "in_progress"):
        history += escalations(ticket, settings=settings, now=now)
    return history


def escalations(ticket: Ticket, *, settings: Settings, now: datetime) -> list[tuple]:
    """What the scheduler would have done by now (三级处理机制): past its due time, one
    level up with the committed time again, at most level 3. Leaves nothing overdue
    below level 3, so starting the server on demo data escalates nothing at once."""
    history = []
    span = timedelta(minutes=due_minutes(ticket.category, settings=settings))
    while ticket.due_at <= now and ticket.escalation_level < 3:
        ticket.escalation_level += 1
        ticket.escalated_at = ticket.due_at
        history.append((ticket.due_at, "scheduler", "escalated",
                        f"超时未处理，升级至第 {ticket.escalation_level} 级"))
        ticket.due_at = ticket.due_at + span
    return history


async def fill(session: AsyncSession, *, settings: Settings, now: datetime,
               seed: int = DEFAULT_SEED, residents: int = 300) -> dict:
    """Fill an empty database. Raises DemoError if it already holds calls or people."""
    found = await existing_rows(session)
    if found:
        what = ", ".join(f"{n} {label}" for label, n in found.items())
        raise NotEmpty(f"the database already has {what}: `ivr demo` only fills an empty "
                        "database (use a new DATABASE_URL)")
    rng = random.Random(seed)
    staff = make_staff(now)
    session.add_all(staff)
    people = make_residents(rng, residents, now)
    session.add_all(people)
    await session.flush()
    supervisor = next((s for s in staff if s.escalation_level == 2), None)

    gen = Generator(rng, settings, staff, people)
    plans = [gen.plan_call(moment) for moment in call_times(rng, settings=settings, now=now)]
    session.add_all([p.call for p in plans])
    await session.flush()
    for plan in plans:
        for leg in plan.legs:
            leg.call_id = plan.call.id
        session.add_all(plan.legs)
    await session.flush()

    tickets = []
    for plan in plans:
        if plan.ticket is None:
            continue
        spec, call = plan.ticket, plan.call
        created = spec["at"]
        # a message is due within the callback's time, but an emergency within its own
        due_as = "callback" if spec.get("message") and spec["category"] != "emergency" else spec["category"]
        ticket = Ticket(
            number="", category=spec["category"], status="open",
            resident_id=call.resident_id, resident_phone=call.from_number,
            call_id=call.id, call_sid=call.sid, description=spec["description"],
            recording_url=spec.get("recording_url"),
            owner_staff_id=spec.get("owner") or (supervisor.id if supervisor else None),
            created_at=created, due_at=due_at_for(due_as, settings=settings, now=created),
            needs_callback=bool(spec.get("message")), escalation_level=1)
        tickets.append(ticket)
    tickets.sort(key=lambda t: t.created_at)
    per_day: dict[str, int] = {}
    histories = []
    for ticket in tickets:
        day = ticket.created_at.astimezone(settings.tz).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        ticket.number = f"{day}-{per_day[day]:04d}"
        histories.append(lifecycle(rng, ticket, settings=settings, now=now,
                                   supervisor=supervisor))
    ensure_every_status(tickets, histories, settings=settings, now=now)
    session.add_all(tickets)
    await session.flush()
    for ticket, history in zip(tickets, histories):
        session.add_all([TicketHistory(ticket_id=ticket.id, at=at, actor=actor, action=action,
                                       detail=detail) for at, actor, action, detail in history])

    outbound = outbound_history(rng, tickets, settings=settings, now=now)
    session.add_all([c for c, _job, _a in outbound if c is not None])
    session.add_all([job for _c, job, _a in outbound])
    await session.flush()
    for call, job, attempt in outbound:
        if call is not None:
            call.outbound_job_id = job.id
        if attempt is not None:
            attempt.job_id = job.id
            session.add(attempt)

    events = [e for plan in plans for e in plan.events]
    for chunk in range(0, len(events), 2000):
        await session.execute(insert(CallEvent), events[chunk:chunk + 2000])

    password = "demo-" + secrets.token_hex(4)
    await add_user(session, name=DEMO_USER, role="supervisor", password=password, now=now)
    token = await create_token(session, name=DEMO_USER, now=now)
    await session.flush()
    return {
        "staff": len(staff), "residents": len(people),
        "residents_in_arrears": sum(1 for r in people if r.arrears > 0),
        "calls": len(plans), "legs": sum(len(p.legs) for p in plans),
        "events": len(events), "tickets": len(tickets), "outbound_calls": sum(1 for c, _j, _a in outbound if c is not None),
        "user": DEMO_USER, "password": password, "token": token,
    }


def ensure_every_status(tickets: list[Ticket], histories: list, *, settings: Settings,
                        now: datetime) -> None:
    """A month of data shows every state; on a short month, nudge the newest tickets."""
    present = {t.status for t in tickets}
    spare = [i for i in range(len(tickets) - 1, -1, -1)
             if tickets[i].status in ("closed", "followed_up")]
    for status in ("open", "assigned", "in_progress", "resolved", "reopened"):
        if status in present or not spare:
            continue
        i = spare.pop()
        ticket = tickets[i]
        ticket.status = status
        ticket.closed_at = None
        if status in ("open", "assigned", "in_progress"):
            ticket.resolved_at = ticket.followed_up_at = ticket.satisfaction = None
            ticket.follow_up_status = ticket.follow_up_due_at = None
        histories[i].append((min(now, ticket.created_at + timedelta(hours=1)), "周主管",
                             "status", f"→ {status}"))
        if status != "resolved":
            histories[i] += escalations(ticket, settings=settings, now=now)


def dialled_at(rng: random.Random, kind: str, earliest: datetime, *, settings: Settings) -> datetime:
    """When the dialer would have ended a call of `kind` wanted from `earliest`: inside
    its window (office hours for callbacks, calling hours for follow-ups), a few minutes
    after it opens or after `earliest`, and the whole call inside the window."""
    moment = next_window(kind, settings=settings, now=earliest) + timedelta(
        seconds=rng.uniform(120, 1800))
    return moment if in_window(kind, settings=settings, now=moment) else next_window(
        kind, settings=settings, now=moment) + timedelta(seconds=rng.uniform(120, 600))


def outbound_history(rng: random.Random, tickets: list[Ticket], *, settings: Settings,
                     now: datetime):
    """The dialer's finished work: 回访 calls of answered follow-ups, and one callback job
    per ticket left as a message (reached, or given up after several tries: staff call by
    hand), each inside its window, so the dialer finds nothing of the demo's left to call.
    A message whose callback would still be ahead (left at night) is marked for staff."""
    made = []
    hotline = settings.hotline_number or HOTLINE
    for ticket in tickets:
        if ticket.follow_up_status == "answered" and ticket.followed_up_at is not None:
            kind, end, reached = "follow_up", ticket.followed_up_at, True
        elif ticket.needs_callback and ticket.resident_phone:
            kind = "callback"
            end = dialled_at(rng, "callback", ticket.created_at + timedelta(
                minutes=rng.uniform(5, 40)), settings=settings)
            if end > now - timedelta(minutes=5):  # not yet: left for staff, never dialled
                made.append((None, OutboundJob(
                    kind=kind, state="cancelled", resident_id=ticket.resident_id,
                    phone=ticket.resident_phone, ticket_id=ticket.id,
                    created_at=ticket.created_at, due_at=ticket.created_at,
                    next_attempt_at=ticket.created_at, attempts=0, outcome="demo",
                    last_error="演示数据：不拨打，请人工回电", updated_at=ticket.created_at), None))
                continue
            reached = (ticket.status in ("resolved", "closed") if ticket.category == "callback"
                       else rng.random() < 0.9)
            ticket.needs_callback = not reached
        else:
            continue
        duration = rng.randint(35, 90) if reached else 0
        started = end - timedelta(seconds=duration or 30)
        call = None
        if reached:
            call = Call(sid=sid(rng), direction="outbound", from_number=hotline,
                        to_number=ticket.resident_phone or "", resident_id=ticket.resident_id,
                        status="completed", outcome="answered", started_at=started,
                        ended_at=end, duration_seconds=duration, menu_choice=None)
        job = OutboundJob(kind=kind, state="done" if reached else "exhausted",
                          resident_id=ticket.resident_id, phone=ticket.resident_phone or "",
                          ticket_id=ticket.id, created_at=ticket.resolved_at or ticket.created_at,
                          due_at=started, not_after=ticket.follow_up_due_at,
                          next_attempt_at=started, attempts=1 if reached else 3,
                          outcome="reached" if reached else "exhausted", updated_at=end)
        attempt = Attempt(job_id=0, number=1, created_at=started,
                          call_sid=call.sid if call else None, state="done",
                          result="reached" if reached else "no-answer", finished_at=end)
        made.append((call, job, attempt))
    return made


def report(summary: dict, settings: Settings) -> list[str]:
    """What `ivr demo` prints: what was made, and how to log in and try it."""
    return [
        f"演示数据已生成 demo data written to {settings.database_url}:",
        f"  {summary['staff']} staff (早班 07:00-14:00, 晚班 14:00-21:00, 值班 21:00-07:00), "
        f"{summary['residents']} residents ({summary['residents_in_arrears']} in arrears)",
        f"  {summary['calls']} calls over {DAYS} days, {summary['legs']} staff phones rung, "
        f"{summary['events']} Twilio events, {summary['tickets']} tickets, "
        f"{summary['outbound_calls']} follow-up and callback calls",
        f"  主管登录 supervisor login: user {summary['user']}  password {summary['password']}",
        f"  API token (export IVR_API_TOKEN=…): {summary['token']}",
    ]
