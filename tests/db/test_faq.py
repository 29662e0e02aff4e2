"""The FAQ knowledge base (db/faq.py): entries are checked field by field, every save is a revision that
can be restored, a save on a revision somebody else has already replaced is refused with what is there
now (two staff editing one entry), an entry used in an answer cannot be deleted but can be withdrawn,
only published entries are candidates (internal ones not on the public side), the index follows edits,
and a citizen's unanswered search is kept without the digits typed into it."""

import datetime
import json

import pytest

from db import faq
from db.models import AuditLog, FaqEntry, FaqSearchMiss
from tests.conftest import ADMIN, NOW

STAFF = ADMIN


@pytest.fixture
def category(db):
    return faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)


def fields(**changes) -> faq.EntryFields:
    values = {"key": "pin-forgot", "category": "pin", "question": "暗証番号を忘れました",
              "answer": "窓口で暗証番号を設定し直せます。カードをお持ちください。",
              "phrasings": ("パスワード 忘れた", "暗証番号がわからない"), "bring": "マイナンバーカード",
              "source_url": "https://www.kojinbango-card.go.jp/", "public": True}
    values.update(changes)
    return faq.EntryFields(**values)


def test_an_entry_is_saved_cleaned_with_its_first_revision_and_audited(category):
    entry = faq.create(fields(key=" PIN-Forgot ", question="暗証番号を　忘れました", phrasings=("", " パスワード ")),
                       STAFF, NOW)
    assert (entry.key, entry.question, entry.phrasings, entry.status, entry.revision) == (
        "pin-forgot", "暗証番号を 忘れました", "パスワード", "draft", 1)
    assert [r.revision for r in faq.revisions(entry)] == [1]
    assert AuditLog.select().where(AuditLog.action == "faq.create", AuditLog.object_id == str(entry.id)).exists()


@pytest.mark.parametrize("change, field", [
    ({"key": "暗証番号"}, "key"), ({"key": ""}, "key"), ({"category": "nope"}, "category"),
    ({"question": ""}, "question"), ({"question": "あ" * 201}, "question"), ({"answer": " "}, "answer"),
    ({"answer": "あ" * 4001}, "answer"), ({"phrasings": ("あ" * 201,)}, "phrasings"),
    ({"phrasings": tuple(f"言い方{i}" for i in range(21))}, "phrasings"), ({"bring": "あ" * 501}, "bring"),
    ({"source_url": "javascript:alert(1)"}, "source_url"), ({"source_url": "www.example.jp"}, "source_url"),
])
def test_a_bad_field_is_refused_by_name_and_nothing_is_saved(category, change, field):
    with pytest.raises(faq.FaqProblem) as refused:
        faq.create(fields(**change), STAFF, NOW)
    assert refused.value.field == field and str(refused.value)
    assert not FaqEntry.select().exists()


def test_several_problems_are_all_told(category):
    with pytest.raises(faq.FaqProblems) as refused:
        faq.create(fields(question="", answer="", source_url="ftp://x"), STAFF, NOW)
    assert [p.field for p in refused.value.problems] == ["question", "answer", "source_url"]


def test_a_name_in_use_is_refused(category):
    faq.create(fields(), STAFF, NOW)
    with pytest.raises(faq.FaqProblem, match="pin-forgot"):
        faq.create(fields(question="別の質問"), STAFF, NOW)


def test_the_second_of_two_editors_is_told_and_sees_the_first_ones_text(category):
    entry = faq.create(fields(), STAFF, NOW)
    first = faq.update(entry.id, entry.revision, fields(answer="一人目の回答です。"), STAFF, NOW)
    with pytest.raises(faq.EditConflict) as conflict:
        faq.update(entry.id, entry.revision, fields(answer="二人目の回答です。"), STAFF, NOW)
    assert conflict.value.entry.answer == "一人目の回答です。" and conflict.value.entry.revision == first.revision == 2
    assert "第2版" in str(conflict.value)
    assert FaqEntry.get_by_id(entry.id).answer == "一人目の回答です。"


def test_an_earlier_revision_comes_back_as_a_new_one(category):
    entry = faq.create(fields(), STAFF, NOW)
    entry = faq.update(entry.id, 1, fields(answer="直した回答です。"), STAFF, NOW)
    entry = faq.restore(entry.id, entry.revision, 1, STAFF, NOW)
    assert (entry.revision, entry.answer) == (3, fields().answer)
    assert [r.revision for r in faq.revisions(entry)] == [3, 2, 1]
    with pytest.raises(faq.FaqProblem):
        faq.restore(entry.id, entry.revision, 99, STAFF, NOW)


def test_a_used_entry_is_withdrawn_not_deleted(category):
    entry = faq.create(fields(), STAFF, NOW, status="published")
    faq.record_use(entry.id, "operator", NOW, rank=1, by=STAFF.name)
    with pytest.raises(faq.FaqProblem, match="取り下げ"):
        faq.delete(entry.id, STAFF, NOW)
    withdrawn = faq.set_status(entry.id, entry.revision, "withdrawn", STAFF, NOW)
    assert withdrawn.status == "withdrawn" and faq.search("暗証番号を忘れた") == []
    unused = faq.create(fields(key="pin-other"), STAFF, NOW)
    faq.delete(unused.id, STAFF, NOW)
    assert faq.entry_by_key("pin-other") is None


def test_a_category_with_entries_cannot_be_deleted(category):
    faq.create(fields(), STAFF, NOW)
    with pytest.raises(faq.FaqProblem):
        faq.delete_category(category.id, STAFF, NOW)
    with pytest.raises(faq.FaqProblem):
        faq.save_category("pin", "別の名前", 2, STAFF, NOW)


def test_only_published_entries_are_candidates_and_internal_ones_stay_off_the_public_side(category):
    draft = faq.create(fields(), STAFF, NOW)
    assert faq.search("暗証番号を忘れた") == []
    faq.set_status(draft.id, draft.revision, "published", STAFF, NOW)
    faq.create(fields(key="pin-staff", question="暗証番号の再設定で職員が確かめること", public=False), STAFF, NOW,
               status="published")
    keys = [c.document.key for c in faq.search("暗証番号を忘れた")]
    assert set(keys) == {"pin-forgot", "pin-staff"}
    assert [c.document.key for c in faq.search("暗証番号を忘れた", public_only=True)] == ["pin-forgot"]


def test_the_index_follows_an_edit_and_a_category_rename(category):
    entry = faq.create(fields(), STAFF, NOW, status="published")
    assert faq.search("ロック解除") == []
    faq.update(entry.id, entry.revision, fields(phrasings=("ロックを解除したい",)), STAFF, NOW)
    assert [c.document.key for c in faq.search("ロック解除")] == ["pin-forgot"]
    faq.save_category("pin", "パスワードと暗証番号", 1, STAFF, NOW, category_id=category.id)
    assert faq.index().documents[0].category == "パスワードと暗証番号"


def test_an_unanswered_search_is_kept_without_its_digits(db):
    miss = faq.record_miss("電話 ０９０１２３４５６７８ に連絡ください 3月", 0, NOW)
    assert miss.query == "電話 ＊＊＊＊＊＊＊＊＊＊＊ に連絡ください 3月"
    assert faq.record_miss("   ", 0, NOW) is None
    assert len(faq.record_miss("あ" * 10_000, 0, NOW).query) == faq.MISS_MAX_CHARS
    assert FaqSearchMiss.select().count() == 2


def test_uses_are_counted_per_entry_in_a_period(category):
    entry = faq.create(fields(), STAFF, NOW, status="published")
    for days in (0, 1, 40):
        faq.record_use(entry.id, "operator", NOW - datetime.timedelta(days=days))
    faq.record_use(entry.id, "citizen", NOW)
    month = (NOW - datetime.timedelta(days=30), NOW + datetime.timedelta(seconds=1))
    assert faq.uses_by_entry(*month) == {entry.id: 3}
    assert faq.uses_by_entry(*month, channel="operator") == {entry.id: 2}
    with pytest.raises(ValueError):
        faq.record_use(entry.id, "fax", NOW)


def test_an_entry_an_ivr_sms_links_to_cannot_be_deleted(category):
    from db.models import FlowVersion, PhoneLine
    entry = faq.create(fields(), STAFF, NOW, status="published")
    PhoneLine.create(did="0725998128", flow="ivr", mode="dtmf_only")
    graph = {"start": "pin", "nodes": {"pin": {"kind": "sms", "text": "ご案内", "faq": "pin-forgot", "sent": "bye",
                                                "failed": "bye"}, "bye": {"kind": "hangup", "text": "失礼します"}}}
    FlowVersion.create(did="0725998128", version=1, status="draft", graph=json.dumps(graph), created_at=NOW)
    with pytest.raises(faq.FaqProblem, match="0725998128"):
        faq.delete(entry.id, STAFF, NOW)
    FlowVersion.update(status="retired").execute()
    faq.delete(entry.id, STAFF, NOW)
    assert faq.entry_by_key("pin-forgot") is None


def test_unanswered_searches_kept_a_day_are_capped(db, monkeypatch):
    monkeypatch.setattr(faq, "MISSES_PER_DAY", 3)
    kept = [faq.record_miss(f"質問{n}", 0, NOW) for n in range(5)]
    assert [m is not None for m in kept] == [True, True, True, False, False]
    assert faq.record_miss("次の日の質問", 0, NOW + datetime.timedelta(days=1, seconds=1)) is not None
