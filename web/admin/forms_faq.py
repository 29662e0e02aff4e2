"""Forms of the FAQ pages: an entry (with the revision it edits, so a second editor is told), a category,
the operator's question."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from db import faq
from web.admin.forms import MESSAGES, Form, IntegerField, required

QUESTION_MAX_CHARS = 2000  # what an operator types or a live transcript brings; the search reads the end


def _length(limit: int):
    return Length(max=limit, message=MESSAGES["field.too_long"])


class EntryForm(Form):
    key = StringField("名前（URL用、英小文字・数字・ハイフン）", validators=[required(), _length(60)],
                      render_kw={"autocapitalize": "none", "spellcheck": "false", "placeholder": "pin-forgot"})
    category = SelectField("カテゴリ", validate_choice=True)
    question = StringField("質問", validators=[required(), _length(faq.LIMITS["question"])])
    answer = TextAreaField("回答", validators=[required(), _length(faq.LIMITS["answer"])], render_kw={"rows": 8})
    phrasings = TextAreaField("ほかの聞き方（1行に1つ）", validators=[_length(4400)], render_kw={"rows": 4})
    bring = StringField("持ち物", validators=[_length(faq.LIMITS["bring"])])
    source_url = StringField("出典（公式のページのアドレス）", validators=[_length(500)],
                             render_kw={"inputmode": "url", "placeholder": "https://www.kojinbango-card.go.jp/"})
    public = BooleanField("市民向けFAQにも出す（外すと職員のみ）", default=True)
    comment = StringField("変更の理由（任意）", validators=[_length(200)])
    revision = HiddenField()

    def fields(self) -> faq.EntryFields:
        return faq.EntryFields(self.key.data or "", self.category.data or "", self.question.data or "",
                               self.answer.data or "", tuple((self.phrasings.data or "").splitlines()),
                               self.bring.data or "", self.source_url.data or "", bool(self.public.data))

    def seen_revision(self) -> int:
        return int(self.revision.data) if (self.revision.data or "").isdigit() else 0


class CategoryForm(Form):
    key = StringField("名前（URL用、英小文字・数字・ハイフン）", validators=[required(), _length(40)],
                      render_kw={"autocapitalize": "none", "spellcheck": "false"})
    name = StringField("カテゴリ名", validators=[required(), _length(60)])
    sort_order = IntegerField("表示順", 0, 9999, "field.sort_order", default=0)


class AskForm(Form):
    """GET: the operator's question (or the call's transcript so far)."""

    class Meta:
        csrf = False

    q = TextAreaField("お問い合わせの内容", validators=[_length(QUESTION_MAX_CHARS)], render_kw={"rows": 3})
