"""Outage notices (停水停电通知) and the callers who asked for an SMS when it is fixed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Notice(Base):
    """What a supervisor posted: where (buildings or estates), what happened, until when."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Comma-separated places as addresses spell them: 阳光花园3栋, 翠湖苑 (a whole estate).
    where: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class NoticeSubscription(Base):
    """A caller who pressed 1 to hear by SMS when the notice is closed: one per phone."""

    __tablename__ = "notice_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    call_sid: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column()
    # The SMS queued when the notice closed (set once: the notice is closed once).
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"), default=None)

    __table_args__ = (UniqueConstraint("notice_id", "phone", name="uq_notice_subscriptions_phone"),)
