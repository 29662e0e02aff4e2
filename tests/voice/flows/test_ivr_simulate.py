"""The IVR simulator (voice/flows/ivr/simulate.py): the real flow walked by the keys staff type, what
it says, what it decided and why (the calendar's rule), how the call ends; a question the keys do
not answer yet leaves it waiting."""

import datetime

from db import flowgraph
from db.flows import Program
from tests.voice.flows.test_ivr import GRAPH, OFFICE
from voice.flows.ivr.simulate import Moment, simulate

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
PROGRAM = Program("0725998128", 2, flowgraph.parse(GRAPH)[0], {"本庁": OFFICE})


def test_a_call_on_12_29_at_18_00_hears_the_closed_branch_and_why(db):
    result = simulate(PROGRAM, "0725998128", datetime.datetime(2026, 12, 29, 18, 0, tzinfo=TOKYO), [])
    assert result.lines == [
        Moment("welcome", "said", "お電話ありがとうございます。"),
        Moment("hours", "turn", "closed", "年末年始（12/29〜1/3）"),
        Moment("closed", "said", "本日の受付は終了しました。"),
        Moment("closed", "end", "finished")]
    assert result.path == ["welcome", "hours", "closed"] and not result.waiting


def test_keys_walk_the_menus_and_silence_counts_as_a_failure(db):
    at = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)
    result = simulate(PROGRAM, "0725998128", at, ["", "1"], caller="09011112222")
    assert result.waiting and result.path == ["welcome", "hours", "main", "shikaku"]
    kinds = [(m.node, m.kind, m.text) for m in result.lines if m.kind in ("keys", "turn")]
    assert kinds == [("hours", "turn", "open"), ("main", "keys", ""), ("main", "turn", "no_input"),
                     ("main", "keys", "1"), ("main", "turn", "chosen")]
    busy = simulate(PROGRAM, "0725998128", at, ["2", "#"], transfer="busy")
    assert busy.path[-2:] == ["message", "bye"] and busy.ended == "finished"
    connected = simulate(PROGRAM, "0725998128", at, ["2"])
    assert connected.ended == "transferred:staff" and connected.lines[-1] == Moment("fuka", "end", "transferred:staff")
