"""The people the hotline knows: staff who take calls, residents who make them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Staff(Base):
    """A staff phone. `position` is the hunt order (the import file's order)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    department: Mapped[str] = mapped_column(String(100), default="")
    shifts: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # 1 = 接待人 (ordinary), 2 = 客服主管 (supervisor), 3 = 主管副总经理 (deputy GM)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    arrears: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class StaffSignIn(Base):
    """签入/签出: a staff member says they are (not) taking hotline calls.

    Rows are only appended: who is signed in is the latest row, so every process reads
    the same answer and the supervisors' figures (time signed in) can be recomputed."""

    __tablename__ = "staff_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column()
    signed_in: Mapped[bool] = mapped_column(Boolean)
    # Where it was said: `page` (the staff page), `keypad` (the staff menu on the hotline).
    source: Mapped[str] = mapped_column(String(20), default="page")
    actor: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_staff_sign_ins_staff_at", "staff_id", "at"),)
