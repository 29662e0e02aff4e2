"""The demo flow as playbooks: events in, commands out (no SIP, no audio)."""

from tests.voice.playbook import Playbook, context, finished, heard, keys, said, silence, started
from voice.call.events import Answer, CallEnded, HangUp, Listen, Transfer, TransferFailed
from voice.flows.echo import EchoFlow


def test_greets_then_reads_back_speech_and_digits():
    flow = EchoFlow(context())
    assert (Playbook(flow)
            << started() >> Answer() >> said("何かお話しください") >> Listen
            << heard("予約したいです") >> said("予約したいです、と聞こえました") >> Listen
            << keys("12") >> said("押されたボタンは、1、2、です。") >> Listen)
    assert flow.log.path == ["greeting", "heard", "digits"]


def test_garbage_or_unsure_recognition_is_not_read_back():
    assert (Playbook(EchoFlow(context()))
            << started() >> Answer() >> said() >> Listen
            << heard("えーと", confidence=0.1) >> said("聞き取れませんでした") >> Listen
            << heard("   ") >> said("聞き取れませんでした") >> Listen)


def test_two_silences_end_the_call_politely():
    flow = EchoFlow(context())
    assert (Playbook(flow)
            << started() >> Answer() >> said() >> Listen
            << silence() >> said("聞こえませんでした") >> Listen
            << silence() >> said("失礼いたします")
            << finished() >> HangUp("no_input"))
    assert flow.log.outcome == "no_input"


def test_zero_asks_for_staff_and_the_flow_goes_on_when_nobody_answers():
    flow = EchoFlow(context())
    assert (Playbook(flow)
            << started() >> Answer() >> said() >> Listen
            << keys("0") >> said() >> Transfer("staff")
            << TransferFailed("staff", "busy") >> said() >> Listen)
    assert flow.log.path[-1] == "after_transfer"


def test_caller_hangup_is_recorded():
    flow = EchoFlow(context())
    assert Playbook(flow) << started() >> Answer() >> said() >> Listen << CallEnded("caller_hangup")
    assert flow.log.outcome == "caller_hangup"
