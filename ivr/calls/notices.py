"""Storm mode (停水停电时): an outage notice callers hear before the menu.

When water or power goes off for a building, hundreds call about the same thing. A
supervisor posts a notice (the dashboard, or `ivr notice add`): where (buildings or
estates, as addresses spell them: 阳光花园3栋, 翠湖苑), what happened, when it should be
fixed. A caller whose registered address starts with one of those places hears it right
after the greeting (an unknown caller only when the notice covers a whole estate) and may
press 1, or say so, to get an SMS when it is fixed, and hang up; or go on to the menu.
Closing the notice queues that SMS for everyone who asked, exactly once each: the SMS
sender (any number of them) sends it at the account's pace.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.platform.refusals import Refusal
from models import Call, Notice, NoticeSubscription, SmsMessage
from models.db import insert_for

SUBSCRIBE_KEY = "1"
# Words that ask for the SMS, said instead of pressing 1.
SUBSCRIBE_WORDS = ("短信", "通知我", "发信息", "好的", "需要", "要的", "text me", "message me", "yes")
SMS_PURPOSE = "notice_fixed"
MAX_TEXT = 300
_PLACES = re.compile(r"[,，、;；\s]+")


class NoticeError(Refusal):
    """A notice that cannot be posted or closed; the message says why."""


def places(notice: Notice) -> list[str]:
    return [p for p in _PLACES.split(notice.where or "") if p]


def is_estate_wide(place: str) -> bool:
    """A place with no building or unit number (翠湖苑, not 翠湖苑3栋) is a whole estate."""
    return not any(ch.isdigit() for ch in place)


def covers(notice: Notice, address: str | None) -> bool:
    if address:
        return any(address.startswith(p) for p in places(notice))
    return any(is_estate_wide(p) for p in places(notice))


async def add(session: AsyncSession, *, where: str, text: str, until: datetime | None,
              actor: str, now: datetime) -> Notice:
    where = "，".join(_PLACES.split((where or "").strip())).strip("，")
    text = (text or "").strip()
    if not where:
        raise NoticeError("say where: a building or an estate as addresses spell it, e.g. 阳光花园3栋",
                          zh="请填写范围：楼栋或小区，与地址写法一致，例如 阳光花园3栋")
    if not text:
        raise NoticeError("say what happened, e.g. 停水检修", zh="请填写事项，例如 停水检修")
    if len(text) > MAX_TEXT:
        raise NoticeError(f"the text is {len(text)} characters; at most {MAX_TEXT}",
                          zh=f"事项共 {len(text)} 字，最多 {MAX_TEXT} 字")
    if until is not None and until <= now:
        raise NoticeError("the time it should be fixed is already past", zh="预计恢复时间已经过去")
    notice = Notice(where=where[:200], text=text, until=until, created_by=actor[:100], created_at=now)
    session.add(notice)
    await session.flush()
    return notice


async def active(session: AsyncSession) -> list[Notice]:
    return list((await session.scalars(
        select(Notice).where(Notice.closed_at.is_(None)).order_by(Notice.id.desc()))).all())


async def active_for(session: AsyncSession, *, address: str | None) -> Notice | None:
    """The newest open notice that covers this caller's address."""
    for notice in await active(session):
        if covers(notice, address):
            return notice
    return None


async def subscribe(session: AsyncSession, *, notice_id: int, phone: str, call_sid: str,
                    now: datetime) -> None:
    """The caller asked for the SMS. Asking twice (or on two calls) is one subscription."""
    insert = insert_for((await session.connection()).dialect.name)
    await session.execute(insert(NoticeSubscription).values(
        notice_id=notice_id, phone=phone, call_sid=call_sid, created_at=now,
    ).on_conflict_do_nothing(index_elements=["notice_id", "phone"]))


def sms_body(notice: Notice, *, settings: Settings) -> str:
    return (f"【{settings.company_name}物业客服中心】您关注的{notice.where}{notice.text}"
            f"已处理完毕，恢复正常。感谢您的耐心等待与理解！")


async def close(session: AsyncSession, *, notice_id: int, settings: Settings,
                now: datetime) -> tuple[Notice, int]:
    """Close the notice and queue its SMS, once for every phone that asked.

    The notice row is claimed by the UPDATE that closes it, so two supervisors closing it
    at the same moment queue the messages once."""
    closed = (await session.execute(
        update(Notice).where(Notice.id == notice_id, Notice.closed_at.is_(None))
        .values(closed_at=now).returning(Notice.id))).scalar()
    notice = await session.get(Notice, notice_id, populate_existing=True)
    if notice is None:
        raise NoticeError(f"no notice {notice_id}", zh="找不到该通知")
    if closed is None:
        return notice, 0
    waiting = (await session.scalars(
        select(NoticeSubscription).where(NoticeSubscription.notice_id == notice_id,
                                         NoticeSubscription.sms_id.is_(None))
        .order_by(NoticeSubscription.id))).all()
    body = sms_body(notice, settings=settings)
    for subscription in waiting:
        message = SmsMessage(to=subscription.phone, body=body, purpose=SMS_PURPOSE,
                             status="queued", created_at=now)
        session.add(message)
        await session.flush()
        subscription.sms_id = message.id
    return notice, len(waiting)


async def figures(session: AsyncSession, notice_ids: list[int]) -> dict[int, dict]:
    """Per notice: calls that heard it, callers who asked for the SMS, and calls it answered
    (deflected: the caller went no further than the notice)."""
    if not notice_ids:
        return {}
    heard = dict((await session.execute(
        select(Call.notice_id, func.count()).where(Call.notice_id.in_(notice_ids))
        .group_by(Call.notice_id))).all())
    deflected = dict((await session.execute(
        select(Call.notice_id, func.count())
        .where(Call.notice_id.in_(notice_ids), Call.menu_choice.is_(None),
               Call.transfer_requested_at.is_(None))
        .group_by(Call.notice_id))).all())
    asked = dict((await session.execute(
        select(NoticeSubscription.notice_id, func.count())
        .where(NoticeSubscription.notice_id.in_(notice_ids))
        .group_by(NoticeSubscription.notice_id))).all())
    return {i: {"heard": heard.get(i, 0), "deflected": deflected.get(i, 0),
                "subscribed": asked.get(i, 0)} for i in notice_ids}


def asks_for_sms(digits: str, said: str) -> bool:
    if digits:
        return digits == SUBSCRIBE_KEY
    said = (said or "").strip().lower()
    return any(word in said for word in SUBSCRIBE_WORDS)
