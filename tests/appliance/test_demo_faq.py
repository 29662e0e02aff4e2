"""The demo FAQ (appliance/demo_faq.toml) loads whole into a store: every entry passes the FAQ's own
checks, is published in a category of the file, and a second load adds nothing; its answer candidates
find the entries for questions in citizens' words, misheard ones included (the README's accuracy
figures come from bench/bench_faq.py over held-out questions)."""

import pytest

from appliance.demo import create_demo_faq
from db import faq
from db.models import FaqCategory, FaqEntry
from tests.conftest import ADMIN, NOW


def test_the_demo_faq_loads_whole_published_and_only_once(db):
    added = create_demo_faq(ADMIN, NOW)
    assert added == FaqEntry.select().count() >= 40
    assert FaqCategory.select().count() >= 8
    assert {e.status for e in FaqEntry.select()} == {"published"}
    assert FaqEntry.select().where(FaqEntry.public == False).count() >= 1  # noqa: E712 (operators' notes)
    assert create_demo_faq(ADMIN, NOW) == 0


@pytest.mark.parametrize("question, key", [
    ("暗証番号を忘れてしまった", "pin-forgot"),
    ("あんしょうばんごう ろっく かかった", "pin-locked"),
    ("電子証明書の行進はいつからできますか", "cert-renew-when"),  # 更新 misheard as 行進
    ("カードを落としたかもしれない", "lost-card"),
    ("マイナ保健所の登録をやめたい", "health-cancel"),  # 保険証 misheard as 保健所
    ("引っ越してきたんだけどカードはどうすれば", "moving-in"),
])
def test_the_demo_candidates_find_the_entry_in_the_first_three(db, question, key):
    create_demo_faq(ADMIN, NOW)
    assert key in [c.document.key for c in faq.search(question, 3)]


def test_internal_entries_stay_off_the_public_side(db):
    create_demo_faq(ADMIN, NOW)
    internal = {e.key for e in FaqEntry.select().where(FaqEntry.public == False)}  # noqa: E712
    for entry in FaqEntry.select().where(FaqEntry.public == False):  # noqa: E712
        found = {c.document.key for c in faq.search(entry.question, 5, public_only=True)}
        assert not found & internal
