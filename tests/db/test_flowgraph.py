"""Flow graphs of IVR lines (db/flowgraph.py): a well-built 3-level flow has no problem, and each way a
flow can fail a caller is found and named on its node, in Japanese, before it can be published."""

import json

import pytest

from db import flowgraph
from tests.voice.flows.test_ivr import GRAPH

KNOWN = flowgraph.Known(calendars=frozenset({"本庁"}), targets=frozenset({"staff"}), ai_allowed=False)


def with_nodes(**nodes) -> dict:
    graph = json.loads(json.dumps(GRAPH))
    for node_id, node in nodes.items():
        if node is None:
            del graph["nodes"][node_id]
        else:
            graph["nodes"][node_id] = node
    return graph


def problems(graph, known=KNOWN) -> list[tuple[str, str]]:
    return [(p.node, p.message) for p in flowgraph.check(graph, known)[1]]


def test_a_three_level_flow_has_no_problem_and_survives_a_round_trip():
    graph, found = flowgraph.check(GRAPH, KNOWN)
    assert found == []
    again, _ = flowgraph.check(graph.dumps(), KNOWN)
    assert again == graph


@pytest.mark.parametrize(("graph", "node", "message"), [
    (with_nodes(orphan={"kind": "hangup"}), "orphan", "どこからも来ることがありません"),
    (with_nodes(welcome={"kind": "announcement", "text": "a", "next": "loop"},
                loop={"kind": "announcement", "text": "b", "next": "welcome"}), "welcome", "たどり着けません"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {}, "failure": "staff"}), "main", "選べるボタンがありません"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {"1": "shikaku"}}), "main", "「やり直しが続いたときの行き先」を選んで"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {"1": "nowhere"}, "failure": "staff"}), "main",
     "「ボタン 1 の行き先」の「nowhere」という場面"),
    (with_nodes(main={"kind": "menu", "text": "", "options": {"1": "shikaku"}, "failure": "staff"}), "main",
     "話す文か"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {"1": "shikaku", "*": "fuka"}, "repeat_key": "*",
                      "failure": "staff"}), "main", "ボタン「*」が二つの働き"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {"12": "shikaku"}, "failure": "staff"}), "main",
     "ボタン「12」は"),
    (with_nodes(welcome={"kind": "announcement", "text": "あ" * 1001, "next": "hours"}), "welcome", "文が長すぎます"),
    (with_nodes(sms_caller={"kind": "sms", "text": "あ" * 661, "sent": "sent", "failed": "entry"}), "sms_caller",
     "SMSの本文が長すぎます（661文字。660文字まで）"),
    (with_nodes(hours={"kind": "schedule", "calendar": "支所", "open": "main", "closed": "closed"}), "hours",
     "カレンダー「支所」はありません"),
    (with_nodes(staff={"kind": "transfer", "target": "市民課", "busy": "message"}), "staff", "転送先「市民課」"),
    (with_nodes(staff={"kind": "queue", "group": "住民課", "overflow": "message"}), "staff", "電話のグループ「住民課」"),
    (with_nodes(bye={"kind": "ai"}), "bye", "AI電話には渡せません"),
    (with_nodes(bye={"kind": "fax"}), "bye", "種類「fax」"),
    (with_nodes(bye={"kind": "hangup", "colour": "red"}), "bye", "「colour」はこの種類"),
    (with_nodes(main={"kind": "menu", "text": "x", "options": {"1": "shikaku"}, "failure": "staff",
                      "timeout_s": 600}), "main", "「待つ秒数」の値"),
    (with_nodes(entry={"kind": "entry", "text": "x", "min_digits": 12, "max_digits": 11, "next": "sms_entered",
                       "failure": "staff"}), "entry", "けた数"),
    (with_nodes(welcome={"kind": "announcement", "audio": "nai.wav", "next": "hours"}), "welcome",
     "音声ファイル「nai.wav」"),
    (with_nodes(welcome={"kind": "announcement", "text": "a\x00b", "next": "hours"}), "welcome", "「話す文」の値"),
    (dict(GRAPH, start="nowhere"), "", "最初の場面「nowhere」"),
    (dict(GRAPH, fallback=""), "", "うまく案内できないとき"),
])
def test_each_problem_is_found_on_its_node(graph, node, message):
    found = problems(graph)
    assert any(n == node and message in m for n, m in found), found


def test_a_message_needs_a_recorded_line():
    unrecorded = flowgraph.Known(calendars=KNOWN.calendars, targets=KNOWN.targets, recorded=False)
    assert ("message", "この電話番号は録音しない設定のため、伝言を録音できません。") in problems(GRAPH, unrecorded)


@pytest.mark.parametrize("text", ["{", "[]", '{"nodes": []}', b"\xff\xfe", "null"])
def test_what_is_no_flow_graph_at_all_is_one_clear_problem(text):
    graph, found = flowgraph.check(text, KNOWN)
    assert graph is None and len(found) == 1 and "流れの形式が正しくありません" in found[0].message


def test_too_many_nodes_are_refused_before_anything_else():
    graph = {"start": "n0", "fallback": "x", "nodes": {f"n{i}": {"kind": "hangup"} for i in range(201)}}
    assert problems(graph) == [("", "場面は200個までです。")]
