"""Which flow answers a call: the line's, with its voice; the busy announcement on the overflow
worker; 404 for a number that is no line, 500 for a line set up wrong."""

from tests.voice.playbook import context
from voice.flows.base import Line
from voice.flows.busy import BusyFlow
from voice.flows.echo import EchoFlow
from voice.flows.router import Refusal, Route, route


def test_a_line_gets_its_flow_and_voice():
    line = Line("0586000001", "echo", tts_speed=0.85, record=False)
    chosen = route(line, context(), overflow=False)
    assert isinstance(chosen, Route) and isinstance(chosen.flow, EchoFlow)
    assert chosen.voice.speed == 0.85 and chosen.record is False


def test_the_overflow_worker_only_says_busy():
    chosen = route(None, context(voice_busy_announcement="ただいま混み合っています。"), overflow=True)
    assert isinstance(chosen.flow, BusyFlow) and chosen.flow.announcement == "ただいま混み合っています。"


def test_unknown_number_and_misconfigured_lines_are_refused_with_the_status_to_send():
    assert route(None, context(), overflow=False) == Refusal(404, "no active phone line for the dialled number")
    wrong_flow = route(Line("0586000001", "nonesuch"), context(), overflow=False)
    wrong_voice = route(Line("0586000001", "echo", tts_engine="kokoro", tts_voice="nobody"), context(), overflow=False)
    assert isinstance(wrong_flow, Refusal) and wrong_flow.status == 500 and "nonesuch" in wrong_flow.reason
    assert isinstance(wrong_voice, Refusal) and wrong_voice.status == 500 and "nobody" in wrong_voice.reason
