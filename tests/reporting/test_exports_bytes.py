"""What Excel opens: the export bytes themselves, not a decoder that forgives their loss."""

from __future__ import annotations

import re

from ivr.reporting.exports import CALL_LOG_COLUMNS, RECEPTION_COLUMNS, to_csv

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_a_csv_export_starts_with_the_byte_order_mark_excel_needs_for_chinese():
    data = to_csv(["序号", "业主姓名"], [[1, "李阿姨"]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8").splitlines() == ["序号,业主姓名", "1,李阿姨"]


def test_every_export_column_is_named_in_chinese_words():
    for column in RECEPTION_COLUMNS + CALL_LOG_COLUMNS:
        assert CHINESE.search(column), column
