"""Spoken requests routed as meant: the shared sample and the hotline's own phrase table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import call_scripts
from ivr.calls.speech import Lexicon, LexiconError, lexicon_in, understand

HERE = Path(__file__).parent
SHARED = Path(__file__).resolve().parents[3] / "shared" / "speech_samples.tsv"
LEXICON = lexicon_in(Path(call_scripts.__file__).parent)


def table(path: Path) -> list[tuple[str, str | None]]:
    with open(path, encoding="utf-8") as handle:
        rows = csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t")
        return [(r[0], None if r[1] == "-" else r[1]) for r in rows if r and r[0] != "utterance"]


PHRASES = table(HERE / "speech_phrases.tsv")


def test_the_phrase_table_covers_every_choice_and_noise():
    assert len(PHRASES) >= 150
    counts = {c: sum(1 for _, m in PHRASES if m == c) for c in
              ("person", "repair", "emergency", "complaint", "fees", "inquiry", None)}
    assert min(counts.values()) >= 10, counts


def test_at_least_95_percent_routed_as_meant_and_every_emergency_to_the_emergency_route():
    wrong = [(said, meant, LEXICON.understand(said).choice) for said, meant in PHRASES
             if LEXICON.understand(said).choice != meant]
    assert len(wrong) <= len(PHRASES) * 0.05, wrong
    assert [w for w in wrong if w[1] == "emergency" or w[2] == "emergency"] == []


@pytest.mark.skipif(not SHARED.exists(), reason="the shared sample sits beside the checkout")
@pytest.mark.parametrize("said, meant", table(SHARED) if SHARED.exists() else [])
def test_the_shared_sample(said, meant):
    assert LEXICON.understand(said).choice == meant


@pytest.mark.parametrize("said, meant", [
    ("办门禁卡", "inquiry"), ("门禁卡刷不开门", "repair"),
    ("燃气灶打不着火", "repair"), ("厨房着火了", "emergency"),
    ("天花板有点渗水", "repair"), ("家里漏水了，水一直往下流", "emergency"),
    ("家里跳闸了", "repair"), ("整栋楼停电了", "emergency"),
    ("装修申请怎么办", "inquiry"), ("楼上装修太吵了", "complaint"),
    ("停车费多少钱", "fees"), ("有人乱停车，把消防通道堵了", "complaint"),
    ("转客服", "person"), ("客服态度太差了", "complaint"),
])
def test_pairs_that_share_words_are_told_apart(said, meant):
    assert LEXICON.understand(said).choice == meant


def test_an_unsure_recogniser_or_noise_is_no_choice():
    assert understand("厨房着火了", lexicon=LEXICON, confidence="0.91", min_confidence=0.3).choice == "emergency"
    assert understand("厨房着火了", lexicon=LEXICON, confidence="0.12", min_confidence=0.3).choice is None
    assert understand("喂？", lexicon=LEXICON, confidence="0.95", min_confidence=0.3).choice is None
    assert understand("", lexicon=LEXICON, confidence=None, min_confidence=0.3).choice is None


def test_the_centre_can_add_words_and_a_bad_row_names_the_file_and_row(tmp_path):
    path = tmp_path / "lexicon.tsv"
    path.write_text("phrase\tchoice\tweight\n# our own words\n开荒保洁\tinquiry\t3\n", encoding="utf-8")
    assert Lexicon.read(path).understand("我想问开荒保洁").choice == "inquiry"
    path.write_text("phrase\tchoice\n漏水\trepairs\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"lexicon.tsv: row 2"):
        Lexicon.read(path)
