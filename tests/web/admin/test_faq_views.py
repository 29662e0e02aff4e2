"""The FAQ on the admin site: an operator types a caller's question and gets the candidates with the
matching words marked (the script's fragment too), records the one used; staff add, edit, publish,
withdraw and restore entries; the second of two editors is told and keeps what they wrote; a used
entry is not deleted; categories; the CSV round trip and a broken file refused with its rows named;
the citizens' unanswered searches listed and marked reviewed; a viewer reads but changes nothing."""

from __future__ import annotations

import io

import pytest

from db import faq, faqfile
from db.models import FaqEntry, FaqRevision, FaqSearchMiss, FaqUse
from tests.conftest import ADMIN, NOW


@pytest.fixture
def entries(db):
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.save_category("cert", "電子証明書の更新", 2, ADMIN, NOW)
    forgot = faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました",
                                        "市役所の窓口で暗証番号を設定し直せます。カードをお持ちください。",
                                        ("パスワード 忘れた",), "マイナンバーカード"), ADMIN, NOW, status="published")
    faq.create(faq.EntryFields("cert-when", "cert", "電子証明書の更新はいつからできますか",
                               "有効期限の3か月前から更新できます。予約してお越しください。"), ADMIN, NOW, status="published")
    return forgot


def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_operator_finds_the_candidate_for_a_spoken_question_and_records_its_use(clerk, entries):
    page = clerk.get("/faq", query_string={"q": "あんしょうばんごう わすれちゃった"})
    body = text(page)
    assert page.status_code == 200
    assert "<mark>暗証番号</mark>を<mark>忘れ</mark>ました" in body  # the question, its matching words marked
    assert "窓口で<mark>暗証番号</mark>を設定し直せます" in body  # the best passage of the answer
    fragment = text(clerk.get("/faq", query_string={"q": "電子証明書の行進はいつから", "fragment": "1"}))
    assert "<mark>更新</mark>" in fragment and "<html" not in fragment
    used = clerk.post("/faq/use", data={"entry_id": entries.id, "rank": "1", "q": "あんしょうばんごう"})
    assert used.status_code == 302
    (use,) = FaqUse.select()
    assert (use.entry_id, use.channel, use.rank) == (entries.id, "operator", 1)
    assert "回答に使ったことを記録しました" in text(clerk.get(used.headers["Location"]))


@pytest.mark.parametrize("question", ["", " ", "あ" * 2001, "\x00\x01", "ｱｲｳｴｵ" * 300])
def test_an_empty_huge_or_broken_question_gets_an_answer_not_an_error(clerk, entries, question):
    page = clerk.get("/faq", query_string={"q": question, "fragment": "1"})
    assert page.status_code == 200
    if len(question) > 2000 or "\x00" in question:
        assert 'class="error"' in text(page)


def test_an_entry_is_added_as_draft_published_edited_and_restored(clerk, entries):
    clerk.get("/faq/new")
    created = clerk.post("/faq/new", data={"key": "lost-card", "category": "pin", "question": "カードをなくしました",
                                           "answer": "すぐに一時停止の電話をしてください。", "phrasings": "落とした\nなくした",
                                           "public": "y", "revision": ""})
    assert created.status_code == 302
    entry = faq.entry_by_key("lost-card")
    assert (entry.status, faq.phrasings(entry)) == ("draft", ["落とした", "なくした"])
    clerk.get(f"/faq/{entry.id}")
    clerk.post(f"/faq/{entry.id}/status", data={"status": "published", "revision": entry.revision})
    assert faq.entry_by_key("lost-card").status == "published"
    clerk.get(f"/faq/{entry.id}/edit")
    clerk.post(f"/faq/{entry.id}/edit", data={"key": "lost-card", "category": "pin", "question": "カードを落としました",
                                              "answer": "一時停止してください。", "revision": "2", "comment": "言い方"})
    assert faq.entry_by_key("lost-card").question == "カードを落としました"
    page = text(clerk.get(f"/faq/{entry.id}"))
    assert "第3版" in page and "言い方" in page and "この版に戻す" in page
    clerk.post(f"/faq/{entry.id}/restore", data={"restore": "1", "revision": "3"})
    restored = faq.entry_by_key("lost-card")
    assert (restored.question, restored.revision, restored.status) == ("カードをなくしました", 4, "published")


def test_a_bad_entry_is_refused_at_its_fields(clerk, entries):
    clerk.get("/faq/new")
    refused = clerk.post("/faq/new", data={"key": "暗証", "category": "pin", "question": "質問", "answer": "回答",
                                           "source_url": "javascript:alert(1)", "revision": ""})
    body = text(refused)
    assert refused.status_code == 422
    assert "英小文字・数字・ハイフン" in body and "https://" in body and 'aria-invalid="true"' in body
    assert FaqEntry.select().count() == 2


def test_the_second_of_two_editors_is_told_and_keeps_what_they_wrote(clerk_client, create_user, entries):
    first, second = clerk_client(create_user("staff")), clerk_client(create_user("staff"))
    first.get(f"/faq/{entries.id}/edit")
    second.get(f"/faq/{entries.id}/edit")
    form = {"key": "pin-forgot", "category": "pin", "question": "暗証番号を忘れました", "revision": "1"}
    assert first.post(f"/faq/{entries.id}/edit", data={**form, "answer": "一人目の回答。"}).status_code == 302
    late = second.post(f"/faq/{entries.id}/edit", data={**form, "answer": "二人目の回答。"})
    body = text(late)
    assert late.status_code == 409
    assert "ほかの職員が先にこの項目を保存しました" in body and "一人目の回答。" in body and "二人目の回答。" in body
    assert faq.entry_by_key("pin-forgot").answer == "一人目の回答。"
    again = second.post(f"/faq/{entries.id}/edit", data={**form, "revision": "2", "answer": "二人目の回答。"})
    assert again.status_code == 302 and faq.entry_by_key("pin-forgot").answer == "二人目の回答。"


def test_a_used_entry_is_not_deleted_an_unused_one_is(clerk, entries):
    faq.record_use(entries.id, "operator", NOW)
    clerk.get(f"/faq/{entries.id}")
    kept = clerk.post(f"/faq/{entries.id}/delete")
    assert "取り下げ" in text(clerk.get(kept.headers["Location"]))
    assert faq.entry_by_key("pin-forgot") is not None
    other = faq.entry_by_key("cert-when")
    clerk.post(f"/faq/{other.id}/delete")
    assert faq.entry_by_key("cert-when") is None and FaqRevision.select().where(FaqRevision.entry == other.id).count() == 0


def test_categories_are_added_renamed_and_kept_while_in_use(clerk, entries):
    clerk.get("/faq/categories")
    assert clerk.post("/faq/categories", data={"key": "lost", "name": "紛失", "sort_order": "3"}).status_code == 302
    taken = clerk.post("/faq/categories", data={"key": "pin", "name": "重なり", "sort_order": "4"})
    assert taken.status_code == 422 and "すでにあります" in text(taken)
    pin = faq.categories()[0]
    clerk.get("/faq/categories")
    clerk.post(f"/faq/categories/{pin.id}", data={"action": "delete"})
    assert "削除できません" in text(clerk.get("/faq/categories"))
    clerk.post(f"/faq/categories/{pin.id}", data={"key": "pin", "name": "暗証番号（パスワード）", "sort_order": "1"})
    assert faq.categories()[0].name == "暗証番号（パスワード）"


def test_the_csv_comes_back_and_a_broken_one_is_refused_with_its_rows(clerk, entries):
    exported = clerk.get("/faq/export.csv", query_string={"encoding": "shift_jis"})
    assert exported.status_code == 200 and "暗証番号を忘れました".encode("cp932") in exported.data
    clerk.get("/faq")
    taken = clerk.post("/faq/import", data={"file": (io.BytesIO(exported.data), "faq.csv")},
                       content_type="multipart/form-data")
    assert "変更なし 2件" in text(clerk.get(taken.headers["Location"]))
    broken = exported.data.decode("cp932").replace("公開中", "公開したい", 1).encode("cp932")
    clerk.get("/faq")
    refused = clerk.post("/faq/import", data={"file": (io.BytesIO(broken), "faq.csv")},
                         content_type="multipart/form-data")
    assert refused.status_code == 422 and "2行目" in text(refused) and "どれも取り込んでいません" in text(refused)
    clerk.get("/faq")
    empty = clerk.post("/faq/import", data={}, content_type="multipart/form-data")
    assert "ファイルを選んでください" in text(clerk.get(empty.headers["Location"]))
    assert faqfile.MAX_BYTES >= 1024 * 1024


def test_unanswered_searches_are_listed_most_asked_first_and_marked_reviewed(clerk, entries):
    for query in ("児童手当", "児童手当", "ごみの日"):
        faq.record_miss(query, 0, NOW)
    page = text(clerk.get("/faq/proposals"))
    assert page.index("児童手当") < page.index("ごみの日")
    ids = [str(m.id) for m in FaqSearchMiss.select().where(FaqSearchMiss.query == "児童手当")]
    clerk.post("/faq/proposals/reviewed", data={"id": ",".join(ids)})
    page = text(clerk.get("/faq/proposals"))
    assert "2件を確認済みにしました" in page and "児童手当" not in page.split("</h1>", 1)[-1].split("確認済みにしました")[1]


def test_a_viewer_reads_the_faq_and_its_candidates_but_changes_nothing(viewer, entries):
    page = text(viewer.get("/faq", query_string={"q": "暗証番号"}))
    assert "暗証番号を忘れました" in page and "この回答を使った" not in page and "項目を追加する" not in page
    assert viewer.get(f"/faq/{entries.id}").status_code == 200
    assert viewer.get("/faq/new").status_code == 403
    assert viewer.post("/faq/use", data={"entry_id": entries.id}).status_code == 403
