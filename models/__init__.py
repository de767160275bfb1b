"""The ORM layer: typed SQLAlchemy 2 models and the async database session."""

from .base import Base, UTCDateTime
from .call import Call, CallEvent, Leg
from .dialer import Attempt, Campaign, OutboundJob, PaceSlot, SmsMessage
from .notice import Notice, NoticeSubscription
from .people import Resident, Staff, StaffSignIn
from .rollup import StatsDay, StatsHourDay, StatsMenuDay, StatsRingDay, StatsStaffDay
from .ticket import Ticket, TicketHistory
from .user import ApiToken, AuditEntry, LoginSession, User

__all__ = [
    "ApiToken", "Attempt", "AuditEntry", "Base", "Call", "CallEvent", "Campaign", "Leg", "LoginSession",
    "Notice", "NoticeSubscription", "OutboundJob", "PaceSlot", "Resident", "SmsMessage", "Staff",
    "StaffSignIn", "StatsDay", "StatsHourDay", "StatsMenuDay", "StatsRingDay", "StatsStaffDay",
    "Ticket", "TicketHistory", "User",
    "UTCDateTime",
]
