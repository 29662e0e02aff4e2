"""The flow editor of IVR lines on the admin site: the tree and a node's form, edits kept in a draft
(callers keep the published flow), problems named on their nodes and publishing refused until they are
fixed, publish with a comment (audited), roll back, JSON export and import, the simulator (the real
flow in a child process: what a call on 12/29 at 18:00 hears, keys pressed in the browser, each prompt
as audio), and admins only."""

from __future__ import annotations

import html
import io
import json
import re

import pytest

from db import calendars, flows, targets
from db.models import AuditLog, PhoneLine
from tests.conftest import ADMIN, NOW
from tests.voice.flows.test_ivr import GRAPH


@pytest.fixture
def line(db, settings_override):
    calendars.save({"name": "本庁", "weekly": {str(d): ["08:45-17:15"] for d in range(5)}}, ADMIN, NOW)
    targets.save("staff", "sip:2001@127.0.0.1", "窓口", ADMIN, NOW)
    line = PhoneLine.create(did="0725998128", flow="ivr", mode="dtmf_only", label="国保")
    flows.save_draft(line.did, GRAPH, ADMIN, NOW)
    flows.publish(line.did, "最初の版", ADMIN, NOW)
    return line


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_lines_page_leads_to_the_editor_which_shows_the_tree_and_a_node(admin, line):
    assert f"/lines/{line.id}/flow" in admin.get("/lines").get_data(as_text=True)
    text = page(admin.get(f"/lines/{line.id}/flow?node=main"))
    assert "公開中：第1版" in text and "「最初の版」" in text and "問題はありません" in text
    assert "ボタン 1 の行き先 →" in text and "場面「main」：ボタンで選ぶメニュー" in text
    assert 'name="option_1"' in text and '<option value="shikaku" selected>' in text


def test_an_edit_goes_to_a_draft_and_callers_keep_the_published_flow(admin, line):
    admin.get(f"/lines/{line.id}/flow?node=welcome")
    response = admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "welcome", "action": "save",
                                                              "text": "新しいあいさつです。", "next": "hours"})
    assert response.status_code == 302
    assert flows.draft(line.did).version == 2
    assert flows.program(line.did).graph.nodes["welcome"].text == "お電話ありがとうございます。"
    assert "下書きに保存しました" in page(admin.get(f"/lines/{line.id}/flow?node=welcome"))
    published = admin.post(f"/lines/{line.id}/flow/publish", data={"comment": "あいさつを変更"})
    assert published.status_code == 302
    assert flows.program(line.did).graph.nodes["welcome"].text == "新しいあいさつです。"
    (row,) = AuditLog.select().where(AuditLog.action == "flow.publish", AuditLog.details.contains('"version": 2'))
    assert row.object_id == line.did and "第2版を公開しました" in page(admin.get(f"/lines/{line.id}/flow"))


def test_a_draft_with_problems_shows_them_on_their_nodes_and_cannot_be_published(admin, line):
    admin.get(f"/lines/{line.id}/flow?node=main")
    admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "main", "action": "save", "text": "メニューです。",
                                                   "option_1": "shikaku", "timeout_s": "六"})
    text = page(admin.get(f"/lines/{line.id}/flow?node=main"))
    assert "「待つ秒数」の値が正しくありません" in text  # not saved: nothing changed
    admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "main", "action": "save", "text": "メニューです。",
                                                   "option_1": "shikaku", "timeout_s": "６"})
    text = page(admin.get(f"/lines/{line.id}/flow?node=main"))
    assert "公開する前に直すこと" in text and "「やり直しが続いたときの行き先」を選んでください" in text
    assert "fuka" in text and "どこからも来ることがありません" in text  # 2 is no longer pressed: fuka is cut off
    refused = admin.post(f"/lines/{line.id}/flow/publish", data={"comment": ""})
    assert refused.status_code == 302 and flows.program(line.did).version == 1
    assert "公開できません" in page(admin.get(f"/lines/{line.id}/flow"))


def test_nodes_are_added_and_deleted_and_the_draft_discarded(admin, line):
    admin.get(f"/lines/{line.id}/flow")
    admin.post(f"/lines/{line.id}/flow/node/new", data={"node_id": "holiday", "kind": "announcement"})
    assert "holiday" in json.loads(flows.draft(line.did).graph)["nodes"]
    admin.post(f"/lines/{line.id}/flow/node/new", data={"node_id": "holiday", "kind": "announcement"})
    assert "場面「holiday」はもうあります" in page(admin.get(f"/lines/{line.id}/flow"))
    admin.post(f"/lines/{line.id}/flow/node/new", data={"node_id": "日本語", "kind": "hangup"})
    assert "英数字" in page(admin.get(f"/lines/{line.id}/flow"))
    admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "holiday", "action": "delete"})
    assert "holiday" not in json.loads(flows.draft(line.did).graph)["nodes"]
    admin.post(f"/lines/{line.id}/flow/discard")
    assert flows.draft(line.did) is None


def test_export_import_and_roll_back(admin, line):
    exported = admin.get(f"/lines/{line.id}/flow/v1.json")
    assert exported.status_code == 200 and json.loads(exported.get_data())["start"] == "welcome"
    changed = json.loads(exported.get_data())
    changed["nodes"]["bye"]["text"] = "さようなら。"
    admin.get(f"/lines/{line.id}/flow")
    admin.post(f"/lines/{line.id}/flow/import", data={"file": (io.BytesIO(json.dumps(changed).encode()), "f.json")},
               content_type="multipart/form-data")
    admin.post(f"/lines/{line.id}/flow/publish", data={"comment": "読み込み"})
    assert flows.program(line.did).graph.nodes["bye"].text == "さようなら。"
    admin.post(f"/lines/{line.id}/flow/import", data={"file": (io.BytesIO(b"not json"), "f.json")},
               content_type="multipart/form-data")
    assert "流れの形式が正しくありません" in page(admin.get(f"/lines/{line.id}/flow"))
    admin.post(f"/lines/{line.id}/flow/v1/rollback", data={"comment": "戻す"})
    assert flows.program(line.did).version == 3
    assert flows.program(line.did).graph.nodes["bye"].text == "失礼いたします。"


def test_the_simulator_says_what_a_call_on_12_29_at_18_00_hears_and_takes_keys(admin, line):
    text = page(admin.get(f"/lines/{line.id}/flow/simulate?at=2026-12-29T18:00"))
    assert "お電話ありがとうございます。" in text and "受付時間外（年末年始（12/29〜1/3））" in text
    assert "本日の受付は終了しました。" in text and "電話が終わりました" in text
    text = page(admin.get(f"/lines/{line.id}/flow/simulate?at=2026-12-07T10:00&caller=09011112222"))
    assert "資格は1、保険料は2。" in text and "ボタンを押す" in text
    key = re.search(r'href="([^"]*keys=1[^"]*)"', text).group(1)
    text = page(admin.get(key))
    assert "押したボタン：1" in text and "加入は1、脱退は2。" in text
    audio = re.findall(r'<audio controls preload="none" src="([^"]+)"', text)[-1]
    wav = admin.get(audio)
    assert wav.status_code == 200 and wav.get_data().startswith(b"RIFF")


def test_staff_edit_flows_only_once_an_administrator_made_them_flow_editors(admin, clerk_client, create_user,
                                                                            line):
    """和泉市's sections set their own numbers' flows without being administrators: a staff account made
    a flow editor on the staff page edits and publishes flows (audited as that person) but still cannot
    change a line's voice or the accounts; made a plain clerk again, it is refused at once."""
    account = create_user("staff", login="kokuho")
    clerk = clerk_client(account)
    assert clerk.get(f"/lines/{line.id}/flow").status_code == 403
    assert clerk.get(f"/lines/{line.id}/flow/simulate").status_code == 403
    assert "電話番号と声" not in page(clerk.get("/"))
    admin.get("/users")
    assert admin.post("/users/kokuho", data={"action": "flows_on"}).status_code == 302
    assert "・電話の流れの編集" in page(admin.get("/users"))
    assert "電話番号と声" in page(clerk.get("/"))
    assert "流れを編集" in page(clerk.get("/lines")) and clerk.get(f"/lines/{line.id}").status_code == 403
    clerk.get(f"/lines/{line.id}/flow?node=welcome")
    clerk.post(f"/lines/{line.id}/flow/node", data={"node_id": "welcome", "action": "save",
                                                   "text": "国保の窓口です。", "next": "hours"})
    assert clerk.post(f"/lines/{line.id}/flow/publish", data={"comment": "係で変更"}).status_code == 302
    assert flows.program(line.did).graph.nodes["welcome"].text == "国保の窓口です。"
    assert AuditLog.get(AuditLog.action == "flow.publish", AuditLog.details.contains('"version": 2')).actor == "kokuho"
    assert clerk.get("/users").status_code == 403
    admin.get("/users")
    assert admin.post("/users/kokuho", data={"action": "flows_off"}).status_code == 302
    assert clerk.get(f"/lines/{line.id}/flow").status_code == 403


def test_only_a_staff_account_is_made_a_flow_editor(admin, create_user):
    """A viewer is never given flow editing (nor an administrator, who has it): refused with the reason."""
    create_user("viewer", login="etsuran")
    admin.get("/users")
    response = admin.post("/users/etsuran", data={"action": "flows_on"}, follow_redirects=True)
    assert "「職員」の権限のアカウントに付けます" in page(response)
    response = admin.post("/users/new", data={"login": "shinki", "display_name": "新規", "role": "viewer",
                                              "edits_flows": "y"})
    assert response.status_code == 422 and "「職員」の権限のアカウントに付けます" in page(response)


def test_a_line_that_is_no_ivr_line_has_no_flow_editor(admin, db):
    booking = PhoneLine.create(did="0586000001", flow="booking")
    assert admin.get(f"/lines/{booking.id}/flow").status_code == 404


def test_an_uploaded_announcement_can_be_chosen_for_a_node_and_what_is_no_audio_is_refused(admin, line, no_audio_yet):
    from tests.db.test_ivr_audio import tone_wav
    admin.get(f"/lines/{line.id}/flow")
    admin.post(f"/lines/{line.id}/flow/audio", data={"name": "aisatsu", "file": (io.BytesIO(tone_wav(44100, 2, 1.0)),
                                                                                  "aisatsu.wav")},
               content_type="multipart/form-data")
    text = page(admin.get(f"/lines/{line.id}/flow?node=welcome"))
    assert "音声「aisatsu.wav」を取り込みました" in text and '<option value="aisatsu.wav">' in text
    admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "welcome", "action": "save", "text": "ようこそ。",
                                                   "audio": "aisatsu.wav", "next": "hours"})
    admin.post(f"/lines/{line.id}/flow/publish", data={"comment": "録音したあいさつ"})
    assert flows.program(line.did).graph.nodes["welcome"].audio == "aisatsu.wav"
    admin.post(f"/lines/{line.id}/flow/audio", data={"name": "memo", "file": (io.BytesIO(b"not audio at all"),
                                                                               "memo.mp3")},
               content_type="multipart/form-data")
    assert "音声として読めません" in page(admin.get(f"/lines/{line.id}/flow"))
    assert AuditLog.select().where(AuditLog.action == "ivr_audio.upload").count() == 1


def test_an_sms_node_links_a_published_public_faq_entry_chosen_by_its_question(admin, line):
    from db import faq
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "窓口で設定し直せます。"), ADMIN, NOW,
               status="published")
    faq.create(faq.EntryFields("pin-staff", "pin", "職員が確かめること", "本人確認。", public=False), ADMIN, NOW,
               status="published")
    text = page(admin.get(f"/lines/{line.id}/flow?node=sms_caller"))
    assert "SMSで案内するよくある質問" in text and ">暗証番号を忘れました</option>" in text
    assert "職員が確かめること" not in text  # an operators' note has no public page to link
    node = json.loads(flows.published(line.did).graph)["nodes"]["sms_caller"]
    admin.post(f"/lines/{line.id}/flow/node", data={"node_id": "sms_caller", "action": "save", "text": node["text"],
                                                   "faq": "pin-forgot", "to": "caller", "sent": node["sent"],
                                                   "failed": node["failed"]})
    assert json.loads(flows.draft(line.did).graph)["nodes"]["sms_caller"]["faq"] == "pin-forgot"
    assert admin.post(f"/lines/{line.id}/flow/publish", data={"comment": "FAQを案内"}).status_code == 302
    assert flows.program(line.did).graph.nodes["sms_caller"].faq == "pin-forgot"
