"""The demo flow as a playbook: events in, commands out (no SIP, no audio)."""

from voice.call.events import (
    Answer,
    CallEnded,
    CallStarted,
    DigitsEntered,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    Say,
    SpeechRecognized,
)
from voice.flows.echo import EchoFlow


def said(commands):
    return [c.text for c in commands if isinstance(c, Say)]


def test_greets_then_reads_back_speech_and_digits():
    flow = EchoFlow()
    start = flow.handle(CallStarted("c1", "0586000001", "09000001234"))
    assert isinstance(start[0], Answer) and "何かお話しください" in said(start)[0] and isinstance(start[-1], Listen)
    assert said(flow.handle(SpeechRecognized("予約したいです", 0.9)))[0].startswith("予約したいです、と聞こえました")
    assert "1、2、シャープ" not in said(flow.handle(DigitsEntered("12", "terminator")))[0]
    assert said(flow.handle(DigitsEntered("12", "terminator")))[0] == "押されたボタンは、1、2、です。"
    assert flow.log.path == ["greeting", "heard", "digits", "digits"]


def test_garbage_or_unsure_recognition_is_not_read_back():
    flow = EchoFlow()
    flow.handle(CallStarted("c1", "0586000001", ""))
    assert "聞き取れませんでした" in said(flow.handle(SpeechRecognized("えーと", 0.1)))[0]
    assert "聞き取れませんでした" in said(flow.handle(SpeechRecognized("   ", 0.9)))[0]


def test_two_silences_end_the_call_politely():
    flow = EchoFlow()
    flow.handle(CallStarted("c1", "0586000001", ""))
    assert "聞こえませんでした" in said(flow.handle(NoInput()))[0]
    goodbye = flow.handle(NoInput())
    assert "失礼いたします" in said(goodbye)[0] and not any(isinstance(c, Listen) for c in goodbye)
    assert flow.handle(PromptFinished(goodbye[0].prompt_id)) == [HangUp("no_input")]
    assert flow.log.outcome == "no_input"


def test_caller_hangup_is_recorded():
    flow = EchoFlow()
    flow.handle(CallStarted("c1", "0586000001", ""))
    assert flow.handle(CallEnded("caller_hangup")) == []
    assert flow.log.outcome == "caller_hangup"
