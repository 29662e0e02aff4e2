"""Versions of an IVR line's flow (db/flows.py): a draft with problems cannot be published, a
published one is the line's program with its calendars, publishing retires the one before (one
published, one draft per line), a rollback publishes an earlier graph as a new version, and every
publish is audited."""

import json

import pytest

from db import calendars, flows
from db.models import AuditLog, FlowVersion, PhoneLine
from tests.conftest import ADMIN, NOW
from tests.voice.flows.test_ivr import GRAPH


@pytest.fixture
def line(db, settings_override):
    settings_override(transfer_targets="staff=sip:2001@127.0.0.1")
    calendars.save({"name": "本庁", "weekly": {"0": ["08:45-17:15"]}}, ADMIN, NOW)
    return PhoneLine.create(did="0725998128", flow="ivr", mode="dtmf_only")


def test_a_draft_is_published_and_becomes_the_lines_program(line):
    flows.save_draft(line.did, GRAPH, ADMIN, NOW)
    assert flows.program(line.did) is None
    published = flows.publish(line.did, "最初の版", ADMIN, NOW)
    program = flows.program(line.did)
    assert (program.version, program.graph.start, sorted(program.schedules)) == (1, "welcome", ["本庁"])
    assert (published.status, published.comment, published.published_by) == ("published", "最初の版", ADMIN.name)
    (row,) = AuditLog.select().where(AuditLog.action == "flow.publish")
    assert row.object_id == line.did and json.loads(row.details) == {"version": 1}


def test_a_draft_with_problems_cannot_be_published_and_nothing_changes(line):
    flows.save_draft(line.did, GRAPH, ADMIN, NOW)
    flows.publish(line.did, "", ADMIN, NOW)
    broken = json.loads(json.dumps(GRAPH))
    broken["nodes"]["staff"]["target"] = "市民課"
    flows.save_draft(line.did, broken, ADMIN, NOW)
    with pytest.raises(flows.FlowError) as refused:
        flows.publish(line.did, "", ADMIN, NOW)
    assert [p.node for p in refused.value.problems] == ["staff"]
    assert flows.program(line.did).version == 1
    assert flows.draft(line.did).version == 2


def test_saving_a_draft_again_replaces_it_and_garbage_is_refused(line):
    flows.save_draft(line.did, GRAPH, ADMIN, NOW)
    flows.save_draft(line.did, json.dumps(GRAPH), ADMIN, NOW)
    assert FlowVersion.select().count() == 1
    with pytest.raises(flows.FlowError):
        flows.save_draft(line.did, "not json", ADMIN, NOW)


def test_a_rollback_publishes_the_earlier_graph_as_a_new_version(line):
    flows.save_draft(line.did, GRAPH, ADMIN, NOW)
    flows.publish(line.did, "v1", ADMIN, NOW)
    changed = json.loads(json.dumps(GRAPH))
    changed["nodes"]["welcome"]["text"] = "新しいあいさつです。"
    flows.save_draft(line.did, changed, ADMIN, NOW)
    flows.publish(line.did, "v2", ADMIN, NOW)
    flows.roll_back(line.did, 1, "v1に戻す", ADMIN, NOW)
    assert [(v.version, v.status) for v in flows.versions(line.did)] == [
        (3, "published"), (2, "retired"), (1, "retired")]
    assert flows.program(line.did).graph.nodes["welcome"].text == "お電話ありがとうございます。"
    assert json.loads(AuditLog.select().order_by(AuditLog.id.desc()).first().details) == {
        "version": 3, "rolled_back_to": 1}


def test_ai_hand_over_cannot_be_published_on_a_key_press_only_line(line):
    graph = {"start": "ai", "fallback": "x", "nodes": {"ai": {"kind": "ai"}}}
    flows.save_draft(line.did, graph, ADMIN, NOW)
    with pytest.raises(flows.FlowError, match="AI電話には渡せません"):
        flows.publish(line.did, "", ADMIN, NOW)
    line.mode = "ai"
    line.save()
    assert flows.publish(line.did, "", ADMIN, NOW).version == 1
