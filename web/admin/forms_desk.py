"""Forms of the operator's desk: an inquiry record (with the revision it edits), an escalation, a
group's reply, the record book's search."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from db import inquiries
from web.admin.forms import MESSAGES, DayField, Form, choices, required
from web.forms import coerce_id


def _length(limit: int):
    return Length(max=limit, message=MESSAGES["field.too_long"])


CHANNEL_LABELS = {"phone": "電話", "counter": "窓口", "email": "メール", "letter": "手紙", "other": "その他"}
STATUS_LABELS = {"open": "対応中", "resolved": "解決", "escalated": "引き継ぎ中", "closed": "完了"}


class RecordForm(Form):
    topic = SelectField("分類", validate_choice=True, default="")
    summary = TextAreaField("問い合わせの内容（個人情報は書かない）", validators=[_length(inquiries.LIMITS["summary"])],
                            render_kw={"rows": 4})
    answer = TextAreaField("回答した内容（個人情報は書かない）", validators=[_length(inquiries.LIMITS["answer"])],
                           render_kw={"rows": 4})
    faq_entries = SelectMultipleField("使ったFAQ", coerce=coerce_id, validate_choice=False)
    caller_name = StringField("お名前（折り返すときだけ）", validators=[_length(inquiries.LIMITS["caller_name"])])
    caller_phone = StringField("折り返しの電話番号", validators=[_length(20)], render_kw={"inputmode": "tel"})
    booking_number = StringField("予約番号（代わりに予約・確認したとき）", validators=[_length(12)],
                                 render_kw={"inputmode": "numeric"})
    outcome = SelectField("対応", choices=choices([("open", "対応中（あとで続ける）"), ("resolved", "解決した（記録を終える）")]),
                          validate_choice=True, default="open")
    first_contact = BooleanField("この電話（1回目の対応）で解決した", default=True)
    revision = HiddenField()

    def fields(self) -> inquiries.RecordFields:
        return inquiries.RecordFields(
            topic=self.topic.data or "", summary=self.summary.data or "", answer=self.answer.data or "",
            caller_name=self.caller_name.data or "", caller_phone=self.caller_phone.data or "",
            booking_number=self.booking_number.data or "", faq_entries=tuple(self.faq_entries.data or ()),
            outcome=self.outcome.data or "open", first_contact=bool(self.first_contact.data))

    def seen_revision(self) -> int:
        return int(self.revision.data) if (self.revision.data or "").isdigit() else 0


class EscalateForm(Form):
    group = SelectField("引き継ぎ先", validate_choice=True)
    note = TextAreaField("引き継ぐ内容（何を確かめてほしいか）", validators=[required(), _length(inquiries.LIMITS["note"])],
                         render_kw={"rows": 3})
    revision = HiddenField()


class ReplyForm(Form):
    reply = TextAreaField("係からの回答", validators=[required(), _length(inquiries.LIMITS["reply"])],
                          render_kw={"rows": 4})


class BookSearchForm(Form):
    class Meta:
        csrf = False

    start = DayField("いつから", validators=[Optional()])
    end = DayField("いつまで", validators=[Optional()])
    words = StringField("ことば（内容・回答）", validators=[_length(100)])
    topic = SelectField("分類", validate_choice=False, default="")
    status = SelectField("状態", choices=choices([("", "すべて"), *STATUS_LABELS.items()]), validate_choice=True, default="")
    channel = SelectField("受付方法", choices=choices([("", "すべて"), *CHANNEL_LABELS.items()]), validate_choice=True,
                          default="")
