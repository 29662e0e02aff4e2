"""Forms of the public site. Messages come from messages.toml; the engine validates again."""

from __future__ import annotations

import datetime
from pathlib import Path

from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from appliance import clock
from appliance.messages import catalogue
from db import normalize
from web import forms

MESSAGES = catalogue(Path(__file__).with_name("messages.toml"))
ERAS = ((2019, "令和"), (1989, "平成"), (1926, "昭和"), (1912, "大正"), (1868, "明治"))


def wareki(year: int) -> str:
    """'昭和25年', or '昭和64年・平成元年' in a year two eras share."""
    names = []
    for start, era in ERAS:
        if year >= start:
            n = year - start + 1
            names.append(f"{era}{'元' if n == 1 else n}年")
            if n != 1:
                break
    return "・".join(reversed(names))


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _year_choices():
    this_year = clock.today().year
    return choices([("", "年")] + [(str(y), f"{y}年（{wareki(y)}）") for y in range(this_year, 1899, -1)])


class BirthDateMixin:
    birth_year = SelectField("年", validate_choice=False)
    birth_month = SelectField("月", choices=choices([("", "月")] + [(str(m), f"{m}月") for m in range(1, 13)]),
                              validate_choice=False)
    birth_day = SelectField("日", choices=choices([("", "日")] + [(str(d), f"{d}日") for d in range(1, 32)]),
                            validate_choice=False)

    def init_birth_choices(self):
        self.birth_year.choices = _year_choices()

    def birth_date(self) -> datetime.date | None:
        return normalize.calendar_date(self.birth_year.data, self.birth_month.data, self.birth_day.data)

    def validate_birth_day(self, field):
        if not (self.birth_year.data and self.birth_month.data and field.data):
            raise ValidationError(MESSAGES["field.birth_date_required"])
        born = self.birth_date()
        if born is None or not datetime.date(1900, 1, 1) <= born <= clock.today():
            raise ValidationError(MESSAGES["field.birth_date_impossible"])


def required():
    return DataRequired(message=MESSAGES["field.required"])


class Form(forms.Form):
    invalid_text = MESSAGES["field.invalid_character"]


class DetailsForm(BirthDateMixin, Form):
    name = StringField("お名前", validators=[required(), Length(max=60, message=MESSAGES["field.name_too_long"])],
                       render_kw={"autocomplete": "name"})
    kana = StringField("フリガナ", validators=[required(), Length(max=60, message=MESSAGES["field.kana_too_long"])])
    phone = StringField("電話番号", validators=[required()], render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = StringField("メールアドレス（任意）",
                        render_kw={"autocomplete": "email", "inputmode": "email"})
    notify = RadioField("予約内容のお知らせ", choices=choices([("sms", "SMS（携帯電話のショートメッセージ）"),
                                                         ("email", "メール"), ("none", "いらない")]), default="sms",
                        validators=[required()])
    party_size = SelectField("人数", default="1", validate_choice=False)

    def __init__(self, *args, max_party_size: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_birth_choices()
        self.party_size.choices = choices([(str(n), f"{n}人") for n in range(1, max_party_size + 1)])
        self.max_party_size = max_party_size

    def validate_kana(self, field):
        kana = normalize.katakana(field.data)
        if not normalize.is_katakana(kana):
            raise ValidationError(MESSAGES["field.kana_not_katakana"])

    def validate_phone(self, field):
        if normalize.phone(field.data) is None:
            raise ValidationError(MESSAGES["field.phone_invalid"])

    def validate_email(self, field):
        email = (field.data or "").strip()
        if email and normalize.email(email) is None:
            raise ValidationError(MESSAGES["field.email_invalid"])
        if self.notify.data == "email" and not email:
            raise ValidationError(MESSAGES["field.email_required"])

    def party(self) -> int | None:
        return normalize.integer(self.party_size.data or "1", 1, self.max_party_size)

    def validate_party_size(self, field):
        if self.party() is None:
            raise ValidationError(MESSAGES["field.party_size_out_of_range"])


class ConfirmForm(Form):
    nonce = HiddenField(validators=[Length(max=64)])


class SlotChoiceForm(Form):
    slot_id = HiddenField()

    def slot(self) -> int | None:
        return normalize.record_id(self.slot_id.data)


class LookupForm(BirthDateMixin, Form):
    number = StringField("予約番号（8けた）", validators=[required()],
                         render_kw={"inputmode": "numeric", "autocomplete": "off"})
    phone_last4 = StringField("電話番号の下4けた", validators=[required()],
                              render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": "4"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_birth_choices()

    def validate_number(self, field):
        if normalize.reservation_number(field.data) is None:
            raise ValidationError(MESSAGES["field.number_invalid"])

    def validate_phone_last4(self, field):
        if normalize.phone_last4(field.data) is None:
            raise ValidationError(MESSAGES["field.phone_last4_invalid"])


def eligibility_form(questions):
    """A form with one checkbox per configured question (q<id>)."""
    class EligibilityForm(Form):
        venue = HiddenField(validators=[Length(max=40)])  # the venue link the citizen came by, if any
    for q in questions:
        setattr(EligibilityForm, f"q{q.id}", BooleanField(q.text))
    return EligibilityForm()


class ActionForm(Form):
    """A bare POST (cancel, change): CSRF token plus the version the citizen saw."""
    version = forms.version_field(MESSAGES["booking.stale"])


class FaqSearchForm(forms.Form):
    """GET: what a citizen types into the FAQ's search box."""

    invalid_text = MESSAGES["faq.invalid"]

    class Meta:
        csrf = False

    q = StringField("質問やことば", validators=[Length(max=200, message=MESSAGES["faq.too_long"])])
