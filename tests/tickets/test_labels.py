"""A ticket's history as its reader says it: stored system words turned into theirs."""

from __future__ import annotations

from ivr.tickets.labels import history_line


def test_history_rows_read_in_chinese_whatever_wrote_them():
    # lifecycle.change_status, with a note
    assert history_line(actor="主管", action="status", detail="open → assigned: 请尽快处理") == {
        "actor": "主管", "action": "状态变更", "detail": "待处理 → 已派单：请尽快处理"}
    # the demo's nudge writes only the new status
    assert history_line(actor="周主管", action="status", detail="→ in_progress")["detail"] == "→ 处理中"
    assert history_line(actor="hotline", action="created", detail="repair: 厨房漏水") == {
        "actor": "热线系统", "action": "创建工单", "detail": "维修：厨房漏水"}
    assert history_line(actor="主管", action="assigned", detail="owner 王芳, department 工程部")[
        "detail"] == "负责人 王芳，部门 工程部"
    assert history_line(actor="回访电话", action="follow_up_answer", detail="neutral")[
        "detail"] == "基本满意"
    # a recording's address is a link on the page for those who may listen, not text to read
    assert history_line(actor="hotline", action="recording",
                        detail="https://api.twilio.com/x/Recordings/RE1")["detail"] == ""
    # a note is the writer's own words, kept as typed
    assert history_line(actor="王芳", action="note", detail="open 了吗")["detail"] == "open 了吗"


def test_history_rows_read_in_english_on_the_english_pages():
    line = history_line(actor="dialer", action="status", detail="resolved → followed_up: 满意",
                        language="en")
    assert line == {"actor": "dialer", "action": "status", "detail": "resolved → followed up: 满意"}
    assert history_line(actor="dialer", action="callback_reached", detail="回电已接通",
                        language="en")["action"] == "callback reached"
