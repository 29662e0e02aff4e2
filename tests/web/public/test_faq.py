"""The citizens' FAQ on the public site: published public entries by category and one per page (never a
draft or an operators' note), a search in the citizen's own words (kana, a misheard word) with the
best passage, an empty, overlong or broken question answered with a message, a search that finds
nothing and 「この中に答えがありませんでした」 kept for staff without the digits typed, 「分かった」
counted as a citizen's use, and a withdrawn entry's old link telling what happened (410)."""

from __future__ import annotations

import pytest

from db import faq
from db.models import FaqSearchMiss, FaqUse
from tests.conftest import ADMIN, NOW


@pytest.fixture
def entries(db):
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.save_category("cert", "電子証明書の更新", 2, ADMIN, NOW)
    faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました",
                               "暗証番号は市役所の窓口で設定し直せます。\n\nカードをお持ちください。", ("パスワード 忘れた",),
                               "マイナンバーカード", "https://www.kojinbango-card.go.jp/"), ADMIN, NOW, status="published")
    faq.create(faq.EntryFields("cert-when", "cert", "電子証明書の更新はいつからできますか",
                               "有効期限の3か月前から更新できます。"), ADMIN, NOW, status="published")
    faq.create(faq.EntryFields("pin-staff", "pin", "暗証番号の再設定で職員が確かめること", "本人確認書類を確かめます。",
                               public=False), ADMIN, NOW, status="published")
    faq.create(faq.EntryFields("pin-draft", "pin", "暗証番号の下書き", "まだ書きかけです。"), ADMIN, NOW)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_faq_lists_published_public_entries_by_category(citizen, entries):
    page = text(citizen.get("/faq"))
    assert "暗証番号を忘れました" in page and "電子証明書の更新はいつからできますか" in page
    assert "職員が確かめること" not in page and "下書き" not in page
    assert page.index("暗証番号を忘れました") < page.index("電子証明書の更新はいつから")
    category = text(citizen.get("/faq/category/pin"))
    assert "暗証番号を忘れました" in category and "電子証明書" not in category.split("<main")[1].split("探す")[0]
    assert citizen.get("/faq/category/nope").status_code == 404
    assert "よくある質問" in text(citizen.get("/"))


def test_an_entry_has_its_own_page_and_notes_and_drafts_have_none(citizen, entries):
    page = text(citizen.get("/faq/pin-forgot"))
    assert "<h1>暗証番号を忘れました</h1>" in page and "<p>カードをお持ちください。</p>" in page
    assert "マイナンバーカード" in page and 'href="https://www.kojinbango-card.go.jp/"' in page
    for hidden in ("pin-staff", "pin-draft", "no-such-entry", "..%2f..%2fetc"):
        assert citizen.get(f"/faq/{hidden}").status_code == 404


def test_a_question_in_the_citizens_own_words_finds_the_entry(citizen, entries):
    page = text(citizen.get("/faq/search", query_string={"q": "あんしょうばんごうを わすれた"}))
    assert 'href="/faq/pin-forgot"' in page and "<strong>暗証番号</strong>" in page
    assert "職員が確かめること" not in page
    misheard = text(citizen.get("/faq/search", query_string={"q": "でんししょうめいしょの行進"}))
    assert 'href="/faq/cert-when"' in misheard


@pytest.mark.parametrize("question, status, says", [
    ("", 200, "探す"), ("あ" * 201, 422, "200文字まで"), ("暗証\x00番号", 422, "使えない文字"),
])
def test_an_empty_long_or_broken_question_gets_a_message(citizen, entries, question, status, says):
    page = citizen.get("/faq/search", query_string={"q": question})
    assert page.status_code == status and says in text(page)
    assert not FaqSearchMiss.select().exists()


def test_a_search_that_finds_nothing_is_kept_for_staff_without_its_digits(citizen, entries):
    page = text(citizen.get("/faq/search", query_string={"q": "児童手当 ０９０１２３４５６７８"}))
    assert "見つかりませんでした" in page
    (miss,) = FaqSearchMiss.select()
    assert miss.query == "児童手当 ＊＊＊＊＊＊＊＊＊＊＊" and miss.found == 0


def test_results_that_do_not_answer_are_reported_by_the_citizen(citizen, entries):
    citizen.get("/faq/search", query_string={"q": "暗証番号 ロック"})
    told = citizen.post("/faq/missing", data={"q": "暗証番号 ロック", "found": "2"})
    assert told.status_code == 302
    assert "ありがとうございます" in text(citizen.get(told.headers["Location"]))
    (miss,) = FaqSearchMiss.select()
    assert (miss.query, miss.found) == ("暗証番号 ロック", 2)


def test_an_answer_that_helped_is_counted_once_per_press(citizen, entries):
    citizen.get("/faq/pin-forgot")
    solved = citizen.post("/faq/pin-forgot/solved")
    page = text(citizen.get(solved.headers["Location"]))
    assert "お役に立ててよかったです" in page and "分かった</button>" not in page
    (use,) = FaqUse.select()
    assert use.channel == "citizen" and use.entry.key == "pin-forgot"
    assert citizen.post("/faq/pin-draft/solved").status_code == 404


def test_a_withdrawn_entrys_old_link_says_it_ended(citizen, entries):
    entry = faq.entry_by_key("cert-when")
    faq.set_status(entry.id, entry.revision, "withdrawn", ADMIN, NOW)
    page = citizen.get("/faq/cert-when")
    assert page.status_code == 410 and "掲載を終えました" in text(page)
    assert "電子証明書の更新はいつから" not in text(citizen.get("/faq"))
