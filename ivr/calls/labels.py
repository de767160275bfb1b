"""What a supervisor calls the call records' system values: direction, menu choice,
outcome, Twilio's call and leg states, the timeline's webhook events and what an
outbound call was for, in Chinese and in English.

Both the pages and the exports read these tables (the exports cannot import `pages`),
so each word is written once. The database keeps Twilio's and the code's words.
"""

from __future__ import annotations

# Each table: value -> (中文, English).
DIRECTIONS = {"inbound": ("呼入", "Inbound"), "outbound": ("呼出", "Outbound")}
MENU_CHOICES = {
    "person": ("人工客服", "A person"), "repair": ("维修", "Repairs"),
    "emergency": ("紧急维修", "Emergency repair"), "complaint": ("投诉", "Complaints"),
    "fees": ("物业费", "Fees"), "inquiry": ("咨询", "Enquiries"), "none": ("未选择", "No choice"),
    "callback": ("回电", "Callback"), "follow_up": ("回访", "Follow-up"),
    "fee_reminder": ("催缴", "Fee reminder"),
}
OUTCOMES = {
    "answered": ("已接听", "answered"), "message": ("留言", "message"),
    "abandoned": ("放弃", "abandoned"), "missed": ("未接", "missed"),
    "self_service": ("自助服务", "self-service"), "ivr": ("语音导航", "IVR only"),
}
# Twilio's CallStatus / DialCallStatus, of a call or of one staff phone (a leg).
CALL_STATES = {
    "queued": ("排队待拨", "queued"), "initiated": ("已发起", "initiated"),
    "ringing": ("振铃中", "ringing"), "in-progress": ("通话中", "in progress"),
    "answered": ("已接起", "answered"), "completed": ("已结束", "completed"),
    "busy": ("占线", "busy"), "no-answer": ("无人接听", "no answer"),
    "failed": ("呼叫失败", "failed"), "canceled": ("已取消", "canceled"),
}
# A timeline row's kind: the webhook Twilio requested (`/twilio/<kind>`).
EVENTS = {
    "voice": ("来电接入", "call arrives"), "status": ("通话状态", "call status"),
    "menu": ("菜单按键", "menu choice"), "notice": ("停水停电通知", "outage notice"),
    "staff-menu": ("员工签入签出", "staff sign-in menu"), "repair": ("维修菜单", "repair menu"),
    "fees": ("物业费菜单", "fees menu"), "dial-result": ("转接结果", "transfer result"),
    "screen": ("员工电话接起", "staff phone picks up"),
    "screen-answer": ("员工按键接听", "staff presses to accept"),
    "leg-status": ("转接状态", "transfer status"), "message": ("留言", "message"),
    "queue-wait": ("排队等待", "waiting in line"), "queue-key": ("排队中按键", "key in line"),
    "queue-connect": ("排队后转接", "put through from the line"),
    "follow-up-answer": ("回访评价", "follow-up answer"),
    "outbound": ("外呼接通", "outbound call answered"),
    "outbound-key": ("外呼按键", "key on an outbound call"),
    "outbound-greet": ("外呼问候", "outbound greeting"),
    "outbound-dial": ("外呼转接结果", "outbound transfer result"),
}
# What the dialer called for (an outbound job's kind, a campaign's kind).
PURPOSES = {
    "follow_up": ("回访", "follow-up"), "callback": ("回电", "callback"),
    "fee_reminder": ("催缴", "fee reminder"), "escalation": ("紧急通知", "escalation call"),
}


def label(table: dict[str, tuple[str, str]], value: str | None, language: str = "zh") -> str:
    """`value` in the reader's words; an unknown value is shown as it is."""
    if not value:
        return ""
    pair = table.get(value)
    return value if pair is None else pair[0 if language == "zh" else 1]
