"""The key-press IVR flow as playbooks: a staff-built graph (db/flowgraph.py) walked by keys, each
node kind, the menu's retries and its repeat/back/top keys, schedules by the call's time, SMS to the
caller's or a keyed number, transfers and their failures, messages, the AI hand-over, and a broken
node that still says something."""

import dataclasses
import datetime

import pytest

from db import calendars, flowgraph
from db.flows import Program
from tests.voice.playbook import Playbook, context, finished, keys, reply, said, silence, started
from voice.call.events import (
    Answer,
    CallEnded,
    HangUp,
    Listen,
    PromptFinished,
    TransferConnected,
    TransferFailed,
)
from voice.call.requests import Refused, SendSms, SmsQueued
from voice.flows.base import Line
from voice.flows.ivr import IvrFlow

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
OFFICE = calendars.parse({"name": "本庁", "weekly": {str(d): ["08:45-17:15"] for d in range(5)}})
SMS_TEXT = "国民健康保険の手続きのご案内です。" * 25  # 425 characters: a long SMS

GRAPH = {
    "start": "welcome", "fallback": "ただいまご案内できません。",
    "nodes": {
        "welcome": {"kind": "announcement", "text": "お電話ありがとうございます。", "next": "hours"},
        "hours": {"kind": "schedule", "calendar": "本庁", "open": "main", "closed": "closed"},
        "closed": {"kind": "hangup", "text": "本日の受付は終了しました。"},
        "main": {"kind": "menu", "text": "資格は1、保険料は2。", "options": {"1": "shikaku", "2": "fuka"},
                 "repeat_key": "*", "top_key": "0", "failure": "staff", "max_failures": 3},
        "shikaku": {"kind": "menu", "text": "加入は1、脱退は2。", "options": {"1": "sms_choice", "2": "staff"},
                    "back_key": "#", "top_key": "0", "failure": "staff"},
        "sms_choice": {"kind": "menu", "text": "この電話に送る場合は1、別の携帯電話は2。",
                       "options": {"1": "sms_caller", "2": "entry"}, "back_key": "#", "failure": "staff"},
        "entry": {"kind": "entry", "text": "携帯電話の番号を押して、最後にシャープ。", "check": "mobile",
                  "min_digits": 11, "max_digits": 11, "next": "sms_entered", "failure": "staff"},
        "sms_caller": {"kind": "sms", "text": SMS_TEXT, "to": "caller", "sent": "sent", "failed": "entry"},
        "sms_entered": {"kind": "sms", "text": SMS_TEXT, "to": "entered", "sent": "sent", "failed": "staff"},
        "sent": {"kind": "hangup", "text": "SMSをお送りしました。"},
        "fuka": {"kind": "transfer", "text": "担当におつなぎします。", "target": "staff", "busy": "message",
                 "no_answer": "bye"},
        "staff": {"kind": "transfer", "target": "staff", "busy": "message"},
        "message": {"kind": "message", "text": "伝言をどうぞ。", "max_s": 60, "next": "bye"},
        "bye": {"kind": "hangup", "text": "失礼いたします。"},
    },
}
MONDAY_10 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)


def flow_for(graph=GRAPH, at=MONDAY_10, caller="09011112222", mode="dtmf_only") -> IvrFlow:
    parsed, problems = flowgraph.check(graph, flowgraph.Known(calendars=frozenset({"本庁"}),
                                                               targets=frozenset({"staff"}), ai_allowed=mode == "ai"))
    assert problems == [], problems
    base = context(caller=caller)
    return IvrFlow(dataclasses.replace(base, line=Line("0725998128", "ivr", mode=mode), started_at=at,
                                       program=Program("0725998128", 3, parsed, {"本庁": OFFICE})))


def test_three_levels_by_keys_to_an_sms_to_the_callers_own_mobile():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said("ありがとうございます")
            << finished() >> said("資格は1") >> Listen
            << keys("1") >> said("加入は1") >> Listen
            << keys("1") >> said("この電話に送る") >> Listen
            << keys("1") >> SendSms(1, to="09011112222", text=SMS_TEXT, key="call-1:sms_caller", did="0725998128")
            << reply(SmsQueued(7)) >> said("お送りしました") >> HangUp("finished"))
    assert flow.log.path == ["welcome", "hours", "main", "shikaku", "sms_choice", "sms_caller", "sent"]
    assert flow.log.outcome == "sms"
    assert [(t["step"], t["result"], t.get("keys")) for t in flow.log.turns] == [
        ("hours", "open", None), ("main", "chosen", "1"), ("shikaku", "chosen", "1"),
        ("sms_choice", "chosen", "1"), ("sms_caller", "sms_queued", None)]


def test_a_landline_caller_is_asked_for_a_mobile_number_which_must_be_one():
    flow = flow_for(caller="0725991234")
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said("資格は1") >> Listen
            << keys("1") >> said() >> Listen << keys("1") >> said() >> Listen
            << keys("1") >> said("携帯電話の番号を押して") >> Listen  # the landline cannot take an SMS
            << keys("0725991234#") >> said("番号を確かめて") >> said("携帯電話の番号") >> Listen
            << keys("0801234567#") >> said("番号を確かめて") >> said("携帯電話の番号") >> Listen  # 10 digits
            << keys("08012345678#") >> asked_sms("08012345678")
            << reply(SmsQueued(7)) >> said("お送りしました") >> HangUp("finished"))
    assert [t["result"] for t in flow.log.turns if t["step"] in ("sms_caller", "entry")] == [
        "not_mobile", "invalid", "invalid", "entered"]


def asked_sms(number: str):
    def match(command) -> bool:
        return isinstance(command, SendSms) and command.to == number and command.key == "call-1:sms_entered"
    return match


def test_wrong_keys_and_silence_are_told_and_asked_again_then_the_failure_branch():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said("資格は1") >> Listen
            << keys("7") >> said("そのボタンは使えません") >> said("資格は1") >> Listen
            << silence() >> said("ボタンが押されませんでした") >> said("資格は1") >> Listen
            << keys("9") >> TransferLike("staff"))
    assert [t["result"] for t in flow.log.turns[1:]] == ["wrong_key", "no_input", "wrong_key", "too_many_failures"]


def TransferLike(target):  # noqa: N802 - reads as a command in a playbook
    from voice.call.events import Transfer
    return Transfer(target)


def test_repeat_back_and_top_keys():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said("資格は1") >> Listen
            << keys("*") >> said("資格は1") >> Listen  # repeat: not a failure
            << keys("1") >> said("加入は1") >> Listen
            << keys("1") >> said("この電話に送る") >> Listen
            << keys("#") >> said("加入は1") >> Listen  # back one level
            << keys("0") >> said("資格は1") >> Listen)  # top
    assert [t["result"] for t in flow.log.turns[1:]] == ["repeat", "chosen", "chosen", "back", "top"]
    assert flow.failures == 0


@pytest.mark.parametrize(("at", "branch"), [
    (datetime.datetime(2026, 12, 7, 8, 44, tzinfo=TOKYO), "closed"),
    (datetime.datetime(2026, 12, 7, 8, 45, tzinfo=TOKYO), "main"),
    (datetime.datetime(2026, 12, 7, 17, 14, tzinfo=TOKYO), "main"),
    (datetime.datetime(2026, 12, 7, 17, 15, tzinfo=TOKYO), "closed"),
    (datetime.datetime(2026, 12, 29, 10, 0, tzinfo=TOKYO), "closed"),  # a Tuesday in the year end
    (datetime.datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO), "closed"),  # 勤労感謝の日, a Monday
    (datetime.datetime(2026, 12, 6, 10, 0, tzinfo=TOKYO), "closed"),  # a Sunday
])
def test_the_schedule_branches_by_the_time_the_call_came_in(at, branch):
    flow = flow_for(at=at)
    welcome = flow.handle(started())[1]
    flow.handle(PromptFinished(welcome.prompt_id))
    assert flow.log.path[:3] == ["welcome", "hours", branch]


def test_a_busy_target_leads_to_its_branch_and_a_message_is_left():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said("資格は1") >> Listen
            << keys("2") >> said("担当におつなぎします") >> TransferLike("staff")
            << TransferFailed("staff", "busy") >> said("伝言をどうぞ") >> Listen(60.0, 1, "#")
            << keys("#") >> said("失礼いたします") >> HangUp("finished"))
    assert flow.log.outcome == "message"
    assert [t["result"] for t in flow.log.turns][-2:] == ["transfer_busy", "message_ended"]


def test_an_unanswered_target_has_its_own_branch_and_a_connected_one_ends_the_flow():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said() >> Listen
            << keys("2") >> said() >> TransferLike("staff")
            << TransferFailed("staff", "no_answer") >> said("失礼いたします") >> HangUp("finished"))
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said() >> Listen
            << keys("2") >> said() >> TransferLike("staff")
            << TransferConnected("staff")
            << CallEnded("caller_hangup"))
    assert flow.log.outcome == "transferred"


def test_a_target_deleted_since_publishing_plays_the_fallback_never_dead_air():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said() >> Listen
            << keys("2") >> said() >> TransferLike("staff")
            << TransferFailed("staff", "unknown_target") >> said("ただいまご案内できません") >> HangUp("broken_flow"))
    assert flow.log.outcome == "broken" and flow.log.path[-1] == "broken:fuka"


def test_a_calendar_deleted_since_publishing_plays_the_fallback():
    flow = flow_for()
    flow.program = dataclasses.replace(flow.program, schedules={})
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished()
            >> said("ただいまご案内できません") >> HangUp("broken_flow"))


def test_an_sms_the_store_refuses_takes_the_failed_branch():
    flow = flow_for()
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said() >> Listen
            << keys("1") >> said() >> Listen << keys("1") >> said() >> Listen
            << keys("1") >> SendSms
            << reply(Refused("not_mobile")) >> said("携帯電話の番号を押して") >> Listen)


def test_the_ai_node_hands_the_call_to_the_booking_dialog_and_is_billed_as_ai():
    graph = {"start": "main", "fallback": "ご案内できません。", "nodes": {
        "main": {"kind": "menu", "text": "予約は1。", "options": {"1": "ai"}, "failure": "bye"},
        "ai": {"kind": "ai"}, "bye": {"kind": "hangup"}}}
    flow = flow_for(graph, mode="ai")
    assert (Playbook(flow) << started() >> Answer() >> said("予約は1") >> Listen)
    commands = flow.handle(keys("1"))
    assert commands[0] == Answer() and "予約窓口" in commands[1].text
    assert isinstance(commands[-1], Listen)  # the dialog asks its first question
    assert flow.kind == "ai"
    flow.handle(CallEnded("caller_hangup"))
    assert flow.log.path[:2] == ["main", "ai"] and len(flow.log.path) > 2


def test_speech_on_a_key_press_question_counts_as_no_answer():
    from tests.voice.playbook import heard
    flow = flow_for(mode="ai")
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said("資格は1") >> Listen
            << heard("しかく") >> said("ボタンが押されませんでした") >> said("資格は1") >> Listen)


def test_a_line_without_a_published_flow_cannot_build_one():
    with pytest.raises(ValueError, match="no published flow"):
        IvrFlow(context())


def test_a_transfer_node_that_records_asks_for_the_recording_before_it_transfers():
    import json

    from voice.call.events import RecordCall, Transfer
    graph = json.loads(json.dumps(GRAPH))
    graph["nodes"]["fuka"]["record"] = True
    flow = flow_for(graph)
    assert (Playbook(flow)
            << started() >> Answer() >> said() << finished() >> said() >> Listen
            << keys("2") >> said("担当におつなぎします") >> RecordCall() >> Transfer("staff"))


QUEUE_GRAPH = {"start": "wait", "fallback": "ご案内できません。", "nodes": {
    "wait": {"kind": "queue", "group": "国保", "every_s": 30, "max_wait_s": 120, "max_length": 5, "record": True,
             "overflow": "later"},
    "later": {"kind": "hangup", "text": "おかけ直しください。"}}}


def queue_flow() -> IvrFlow:
    parsed, problems = flowgraph.check(QUEUE_GRAPH, flowgraph.Known(groups=frozenset({"国保"})))
    assert problems == [], problems
    base = context()
    return IvrFlow(dataclasses.replace(base, line=Line("0462000001", "ivr", mode="dtmf_only"), started_at=MONDAY_10,
                                       program=Program("0462000001", 1, parsed, {})))


def test_a_queue_tells_the_place_polls_quietly_and_transfers_when_a_phone_is_free():
    from voice.call.events import RecordCall, Transfer
    from voice.call.requests import JoinQueue, PollQueue, QueuePlace, QueueTurn, Requeue
    flow = queue_flow()
    assert (Playbook(flow)
            << started() >> Answer() >> JoinQueue(1, call_id="call-1", did="0462000001", group="国保", max_length=5)
            << reply(QueuePlace(3, 0.0)) >> said("このままお待ちください", "3番目") >> Listen(2.0, 1, "")
            << silence() >> PollQueue(2, call_id="call-1")
            << reply(QueuePlace(2, 12.0)) >> Listen(2.0, 1, "")  # said again only after every_s
            << keys("5") >> PollQueue
            << reply(QueuePlace(1, 31.0)) >> said("1番目") >> Listen
            << silence() >> PollQueue
            << reply(QueueTurn("窓口A")) >> RecordCall() >> Transfer("窓口A")
            << TransferFailed("窓口A", "no_answer") >> Requeue(5, call_id="call-1")
            << reply(QueuePlace(1, 50.0)) >> Listen
            << silence() >> PollQueue
            << reply(QueueTurn("窓口B")) >> RecordCall() >> Transfer("窓口B")
            << TransferConnected("窓口B"))
    assert flow.log.outcome == "transferred"
    assert [t["result"] for t in flow.log.turns] == ["offered", "transfer_no_answer", "offered", "connected"]


def test_a_full_queue_or_a_wait_too_long_goes_to_the_overflow_node():
    from voice.call.requests import JoinQueue, LeaveQueue, PollQueue, QueuePlace
    assert (Playbook(queue_flow())
            << started() >> Answer() >> JoinQueue
            << reply(Refused("full")) >> said("おかけ直しください") >> HangUp("finished"))
    flow = queue_flow()
    assert (Playbook(flow)
            << started() >> Answer() >> JoinQueue
            << reply(QueuePlace(1, 0.0)) >> said() >> Listen
            << silence() >> PollQueue
            << reply(QueuePlace(1, 121.0)) >> LeaveQueue(3, call_id="call-1", state="timeout")
            >> said("おかけ直しください") >> HangUp("finished"))
    assert [t["result"] for t in flow.log.turns] == ["queue_timeout"]


def test_only_a_flow_that_can_put_callers_through_asks_its_worker_to_keep_a_place_for_the_transfer():
    """The worker keeps a second call place for each call whose flow has a transfer (or queue, or the AI
    dialog, which transfers to staff); a flow of menus and announcements alone needs none."""
    assert flow_for().can_transfer
    announcements = {"start": "welcome", "fallback": "ただいまご案内できません。", "nodes": {
        "welcome": {"kind": "menu", "text": "ご案内は1。", "options": {"1": "info"}, "failure": "bye"},
        "info": {"kind": "announcement", "text": "受付は平日です。", "next": "bye"},
        "bye": {"kind": "hangup", "text": "失礼いたします。"}}}
    assert not flow_for(announcements).can_transfer


def test_an_sms_linking_a_faq_entry_ends_with_the_entrys_public_address():
    """The node names a public FAQ entry: the text gets the entry's page on the public site (the line's
    public_url) on a line of its own, and the request names the entry so its use is counted."""
    graph = {"start": "welcome", "fallback": "ただいまご案内できません。", "nodes": {
        "welcome": {"kind": "announcement", "text": "お電話ありがとうございます。", "next": "main"},
        "main": {"kind": "menu", "text": "暗証番号は1。", "options": {"1": "pin"}, "failure": "bye"},
        "pin": {"kind": "sms", "text": "暗証番号の再設定のご案内です。", "faq": "pin-forgot", "sent": "bye", "failed": "bye"},
        "bye": {"kind": "hangup", "text": "失礼いたします。"}}}
    parsed, problems = flowgraph.check(graph, flowgraph.Known(calendars=frozenset({"本庁"}), targets=frozenset({"staff"}),
                                                              faq=frozenset({"pin-forgot"})))
    assert problems == []
    base = context(caller="09011112222", public_url="https://yoyaku.demo.lg.jp/")
    flow = IvrFlow(dataclasses.replace(base, line=Line("0725998128", "ivr", mode="dtmf_only"), started_at=MONDAY_10,
                                       program=Program("0725998128", 3, parsed, {"本庁": OFFICE})))
    assert (Playbook(flow)
            << started() >> Answer() >> said("ありがとうございます")
            << finished() >> said("暗証番号は1") >> Listen
            << keys("1") >> SendSms(1, to="09011112222", key="call-1:pin", did="0725998128", faq="pin-forgot",
                                    text="暗証番号の再設定のご案内です。\nhttps://yoyaku.demo.lg.jp/faq/pin-forgot")
            << reply(SmsQueued(1)) >> said("失礼いたします") >> HangUp("finished"))
    _, problems = flowgraph.check(graph, flowgraph.Known(calendars=frozenset({"本庁"}), targets=frozenset({"staff"})))
    assert [p.node for p in problems] == ["pin"] and "pin-forgot" in problems[0].message
