"""Without the database the staff phone still screens: no key, no bridge.

A phone's own voicemail answers and presses nothing. If the screening TwiML then ended
without hanging up, Twilio would bridge the resident to the voicemail."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.calls import degraded
from ivr.people.roster import RosterCache
from ivr.platform.hotline import Hotline
from ivr.platform.scripts import CallScripts
from tests.conftest import local


@pytest.fixture
def hotline(settings):
    return Hotline(settings=settings, scripts=CallScripts(), now=local(2026, 11, 23, 2, 0))


def verbs(response) -> list[str]:
    return [child.tag for child in ET.fromstring(str(response))]


def test_the_screening_prompt_hangs_up_when_no_key_is_pressed(hotline, tmp_path):
    twiml = degraded.screen(hotline, RosterCache(tmp_path / "roster.json"),
                            {"n": "1"}, {"CallSid": "CA1"})
    assert verbs(twiml) == ["Gather", "Hangup"]
    gather = ET.fromstring(str(twiml)).find("Gather")
    assert gather.get("actionOnEmptyResult") in (None, "false")
    assert "/twilio/screen-answer?n=1" in gather.get("action")


@pytest.mark.parametrize("digits, bridged", [("1", True), ("", False), ("2", False), ("*", False)])
def test_only_the_accept_key_bridges(hotline, tmp_path, digits, bridged):
    twiml = degraded.screen_answer(hotline, RosterCache(tmp_path / "roster.json"),
                                   {"n": "1"}, {"CallSid": "CA1", "Digits": digits})
    assert ("Hangup" not in verbs(twiml)) is bridged
