"""The FAQ as a CSV file for Excel (db/faqfile.py): an export imports back unchanged in either encoding,
an edited file updates its entries as new revisions and creates new categories, and a file with broken
rows is refused whole, each broken row named with its row number, nothing changed."""

import csv
import io

import pytest

from db import faq, faqfile
from db.models import FaqCategory, FaqEntry, FaqRevision
from tests.conftest import ADMIN, NOW

HEADER = ["名前", "カテゴリ", "カテゴリ名", "質問", "回答", "言い換え", "持ち物", "出典", "公開範囲", "状態"]


@pytest.fixture
def entries(db):
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "窓口で設定し直せます。\n\nカードをお持ちください。",
                               ("パスワード 忘れた", "=暗証番号"), "マイナンバーカード", "https://www.kojinbango-card.go.jp/"),
               ADMIN, NOW, status="published")
    faq.create(faq.EntryFields("pin-staff", "pin", "職員が確かめること", "本人確認書類を確かめます。", public=False),
               ADMIN, NOW)


def rows_csv(rows, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis"])
def test_an_export_imports_back_unchanged(entries, encoding):
    data = faqfile.export(encoding)
    result = faqfile.import_csv(data, ADMIN, NOW)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert FaqRevision.select().count() == 2
    forgot = faq.entry_by_key("pin-forgot")
    assert faq.phrasings(forgot) == ["パスワード 忘れた", "=暗証番号"]  # the formula guard taken off again
    assert forgot.answer == "窓口で設定し直せます。\n\nカードをお持ちください。"
    assert not faq.entry_by_key("pin-staff").public


def test_an_edited_file_updates_entries_adds_new_ones_and_their_category(entries):
    rows = list(csv.reader(io.StringIO(faqfile.export("utf-8").decode("utf-8-sig"))))[1:]
    rows[0][4] = "窓口で暗証番号を設定し直せます。"
    rows[1][9] = "公開中"
    rows.append(["lost-card", "lost", "紛失・停止", "カードをなくしました", "まず停止の電話をしてください。", "", "", "",
                 "公開", "下書き"])
    result = faqfile.import_csv(rows_csv(rows), ADMIN, NOW)
    assert (result.created, result.updated, result.unchanged, result.categories) == (1, 1, 1, 1)
    assert faq.entry_by_key("pin-forgot").revision == 2
    assert faq.entry_by_key("pin-staff").status == "published"
    assert faq.entry_by_key("lost-card").category.name == "紛失・停止"


def test_a_file_with_broken_rows_is_refused_whole_naming_each_row(entries):
    rows = [
        ["pin-forgot", "pin", "暗証番号", "質問が変わった", "回答", "", "", "", "公開", "公開中"],  # fine
        ["", "pin", "", "名前がない", "回答", "", "", "", "公開", "下書き"],
        ["new-one", "nope", "", "カテゴリがない", "回答", "", "", "", "公開", "下書き"],
        ["pin-forgot", "pin", "", "同じ名前", "回答", "", "", "", "公開", "下書き"],
        ["short-row", "pin"],
        ["bad-state", "pin", "", "質問", "回答", "", "", "javascript:x", "みんな", "消した"],
    ]
    before = {e.key: (e.revision, e.question) for e in FaqEntry.select()}
    with pytest.raises(faqfile.ImportRefused) as refused:
        faqfile.import_csv(rows_csv(rows), ADMIN, NOW)
    problems = refused.value.problems
    assert [p.split("行目")[0] for p in problems] == ["3", "4", "5", "6", "7", "7", "7"], problems
    assert "bad-state" in problems[-1] and "new-one" in problems[1]
    assert {e.key: (e.revision, e.question) for e in FaqEntry.select()} == before
    assert FaqCategory.select().count() == 1


@pytest.mark.parametrize("data, says", [
    (b"", "見出し"), ("名前,カテゴリ\n".encode(), "見出し"), (b"\xff\xfe\x00garbage\x81", "文字コード"),
    (rows_csv([]), "行がありません"),
])
def test_a_file_that_is_no_faq_csv_is_refused_with_its_cause(entries, data, says):
    with pytest.raises(faqfile.ImportRefused) as refused:
        faqfile.import_csv(data, ADMIN, NOW)
    assert says in str(refused.value)
