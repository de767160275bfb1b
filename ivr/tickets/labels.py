"""What a supervisor calls a ticket's system values: categories, statuses, follow-up
states, satisfaction answers and the history's steps, in Chinese and in English.

The pages and the exports (CSV, XLSX, SMS) both read these tables, so each word is
written once, here in the ivr layer the exports may import. History rows keep their
system words in the database (the API and old rows rely on them); `history_line`
turns one into the words of the reader's language when it is shown.
"""

from __future__ import annotations

import re

CATEGORY_LABELS = {
    "zh": {"repair": "维修", "complaint": "投诉", "inquiry": "咨询", "callback": "回电",
           "emergency": "紧急维修"},
    "en": {"repair": "repair", "complaint": "complaint", "inquiry": "enquiry",
           "callback": "callback request", "emergency": "emergency repair"},
}
STATUS_LABELS = {
    "open": "待处理", "assigned": "已派单", "in_progress": "处理中", "resolved": "已解决",
    "followed_up": "已回访", "closed": "已关闭", "reopened": "重新处理",
}
STATUS_LABELS_EN = {
    "open": "open", "assigned": "assigned", "in_progress": "in progress", "resolved": "resolved",
    "followed_up": "followed up", "closed": "closed", "reopened": "reopened",
}
SATISFACTION_LABELS = {"satisfied": "满意", "neutral": "基本满意", "dissatisfied": "不满意"}
SATISFACTION_LABELS_EN = {"satisfied": "satisfied", "neutral": "fairly satisfied",
                          "dissatisfied": "dissatisfied"}
FOLLOW_UP_LABELS = {
    "zh": {"scheduled": "已安排回访电话", "answered": "已回访", "manual": "待人工回访",
           "cancelled": "已取消"},
    "en": {"scheduled": "call scheduled", "answered": "answered", "manual": "to call by hand",
           "cancelled": "cancelled"},
}
# The history's `action` column: one step of the ticket's life.
ACTION_LABELS = {
    "zh": {"created": "创建工单", "status": "状态变更", "assigned": "派单", "note": "备注",
           "recording": "留言录音", "escalated": "升级", "follow_up_scheduled": "安排回访",
           "follow_up_manual": "转人工回访", "follow_up_cancelled": "取消回访",
           "follow_up_unreached": "回访未接通", "follow_up_answer": "回访评价",
           "callback_queued": "回电排队", "callback_attempt": "回电",
           "callback_reached": "回电已接通", "callback_exhausted": "回电多次未接通",
           "callback_invalid_number": "回电号码无效", "callback_expired": "回电超时",
           "callback_cancelled": "回电已取消", "escalation_reached": "紧急电话已接通",
           "escalation_exhausted": "紧急电话多次未接通", "escalation_invalid_number": "紧急电话号码无效",
           "escalation_expired": "紧急电话超时", "escalation_cancelled": "紧急电话已取消"},
    "en": {"created": "created", "status": "status", "assigned": "assigned", "note": "note",
           "recording": "voice message", "escalated": "escalated",
           "follow_up_scheduled": "follow-up scheduled", "follow_up_manual": "follow-up by hand",
           "follow_up_cancelled": "follow-up cancelled", "follow_up_unreached": "follow-up unreached",
           "follow_up_answer": "follow-up answer", "callback_queued": "callback queued",
           "callback_attempt": "callback attempt"},
}
# The history's `actor` when no person did it: the parts of the server that act alone.
ACTOR_LABELS = {
    "zh": {"hotline": "热线系统", "dialer": "自动外呼", "scheduler": "系统（超时升级）",
           "system": "系统"},
    "en": {"hotline": "hotline", "dialer": "dialer", "scheduler": "system (overdue)",
           "system": "system"},
}

_STATUS_STEP = re.compile(r"^(?:(\w+) )?→ (\w+)(?:: (.*))?$", re.S)


def category_label(category: str, language: str = "zh") -> str:
    return CATEGORY_LABELS.get(language, CATEGORY_LABELS["zh"]).get(category, category)


def status_label(status: str, language: str = "zh") -> str:
    return (STATUS_LABELS if language == "zh" else STATUS_LABELS_EN).get(status, status)


def satisfaction_label(answer: str | None, language: str = "zh") -> str:
    if not answer:
        return ""
    return (SATISFACTION_LABELS if language == "zh" else SATISFACTION_LABELS_EN).get(answer, answer)


def follow_up_label(state: str | None, language: str = "zh") -> str:
    return FOLLOW_UP_LABELS.get(language, FOLLOW_UP_LABELS["zh"]).get(state or "", state or "")


def _detail(action: str, detail: str, language: str) -> str:
    """The stored detail with its system words (statuses, categories, answers) translated."""
    colon = "：" if language == "zh" else ": "
    if action == "status" and (step := _STATUS_STEP.match(detail)):
        old, new, note = step.groups()
        text = f"{status_label(old, language)} → " if old else "→ "
        return text + status_label(new, language) + (f"{colon}{note}" if note else "")
    if action == "created":
        category, sep, rest = detail.partition(": ")
        if sep and category in CATEGORY_LABELS["zh"]:
            return f"{category_label(category, language)}{colon}{rest}"
    if action == "assigned" and language == "zh":
        parts = []
        for part in detail.split(", "):
            what, _, value = part.partition(" ")
            parts.append({"owner": "负责人 ", "department": "部门 "}.get(what, what + " ") + value)
        return "，".join(parts)
    if action == "follow_up_answer":
        return satisfaction_label(detail, language)
    if action == "recording":
        return ""  # a link for those who may listen, on the ticket page; not a URL to read
    return detail


def history_line(*, actor: str, action: str, detail: str, language: str = "zh") -> dict:
    """One history row as its reader says it: who, what, and the detail."""
    actors = ACTOR_LABELS.get(language, ACTOR_LABELS["zh"])
    actions = ACTION_LABELS.get(language, ACTION_LABELS["zh"])
    return {"actor": actors.get(actor, actor),
            "action": actions.get(action, action.replace("_", " ") if language == "en" else action),
            "detail": _detail(action, detail or "", language)}
