"""Forms of the admin site. Every field is checked here with a Japanese message next to it; the
services check again."""

from __future__ import annotations

import datetime
import re
import unicodedata
from pathlib import Path

from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from appliance.messages import catalogue
from db import normalize
from db.slots import MAX_RANGE_DAYS, SLOT_MINUTES
from web import forms
from web.forms import coerce_id, coerce_integer

MESSAGES = catalogue(Path(__file__).with_name("messages.toml"))
WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select's choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def required():
    return DataRequired(message=MESSAGES["field.required"])


class Form(forms.Form):
    invalid_text = MESSAGES["field.invalid_character"]


def DayField(label: str, validators=None, message_key: str = "field.date", **kw) -> forms.DayField:  # noqa: N802
    """A date typed or picked as 2026-12-10; a date that does not exist gets the Japanese message."""
    return forms.DayField(label, validators, message=MESSAGES[message_key], **kw)


def IntegerField(label: str, low: int, high: int, message_key: str, validators=None, **kw):  # noqa: N802
    return forms.IntegerField(label, validators, low=low, high=high, message=MESSAGES[message_key], **kw)


def date_field(label: str, **kw):
    return DayField(label, validators=[InputRequired(message=MESSAGES["field.date"])], **kw)


def parse_time(text: str) -> datetime.time:
    value = normalize.clock_time(text)
    if value is None or value.minute % SLOT_MINUTES:
        raise ValueError(text)
    return value


def parse_hours(text: str) -> tuple[tuple[datetime.time, datetime.time], ...]:
    """'09:00-12:00, 13:00-17:00' (full-width digits and 〜 accepted) → ranges; ValueError when unclear."""
    text = unicodedata.normalize("NFKC", text or "")
    ranges = []
    for part in filter(None, (p.strip() for p in re.split(r"[,、，]", text))):
        start, sep, end = re.sub(r"[〜~−―ー]", "-", part).partition("-")
        if not sep:
            raise ValueError(part)
        start_t, end_t = parse_time(start), parse_time(end)
        if end_t <= start_t:
            raise ValueError(part)
        ranges.append((start_t, end_t))
    if not ranges:
        raise ValueError(text)
    ranges.sort()
    for (_, end_a), (start_b, _) in zip(ranges, ranges[1:], strict=False):
        if start_b < end_a:
            raise ValueError(text)
    return tuple(ranges)


class RangeMixin:
    first = date_field("開始日")
    last = date_field("終了日")

    def validate_last(self, field):
        if self.first.data and field.data:
            if field.data < self.first.data:
                raise ValidationError(MESSAGES["field.date_range"])
            if (field.data - self.first.data).days > MAX_RANGE_DAYS:
                raise ValidationError(MESSAGES["field.range_too_long"])


class TimesMixin:
    """An optional time-of-day range within the days (empty: the whole day)."""

    from_time = StringField("開始時刻（任意）", render_kw={"placeholder": "09:00", "inputmode": "numeric"})
    to_time = StringField("終了時刻（任意）", render_kw={"placeholder": "12:00", "inputmode": "numeric"})

    def times(self) -> tuple[datetime.time, datetime.time] | None:
        if not (self.from_time.data or self.to_time.data):
            return None
        return parse_time(self.from_time.data or "00:00"), parse_time(self.to_time.data or "23:30")

    def validate_to_time(self, field):
        try:
            self.times()
        except ValueError:
            raise ValidationError(MESSAGES["field.time"]) from None


# --- sign-in ---------------------------------------------------------------------------------------

class LoginForm(Form):
    login = StringField("ログインID", validators=[required(), Length(max=40)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("パスワード", validators=[required(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})


class CodeForm(Form):
    code = StringField("確認コード", validators=[required(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ReauthForm(Form):
    password = PasswordField("パスワード", validators=[required(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    code = StringField("確認コード", validators=[required(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class NewPasswordForm(Form):
    current = PasswordField("今のパスワード", validators=[required(), Length(max=200)],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("新しいパスワード（12文字以上）", validators=[required()],
                        render_kw={"autocomplete": "new-password"})
    repeat = PasswordField("新しいパスワード（確認のためもう一度）", validators=[required()],
                           render_kw={"autocomplete": "new-password"})


class EnrolForm(Form):
    code = StringField("認証アプリに表示された6けたの数字", validators=[required(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ActionForm(Form):
    """A button-only form: the CSRF token is all it carries."""


# --- venues and slots ------------------------------------------------------------------------------

class VenueForm(Form):
    slug = StringField("URL用の名前（英小文字）", validators=[required()])
    name = StringField("会場名", validators=[required(), Length(max=100)])
    kana = StringField("読みがな（カタカナ）", validators=[required(), Length(max=200)])
    address = StringField("住所", validators=[Length(max=200)])
    access = TextAreaField("行き方・目印", validators=[Length(max=1000)])
    sort_order = IntegerField("表示順", 0, 9999, "field.sort_order", default=0, validators=[Optional()])
    active = BooleanField("予約を受け付ける", default=True)

    def validate_slug(self, field):
        field.data = (field.data or "").strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", field.data):
            raise ValidationError(MESSAGES["field.slug"])

    def validate_kana(self, field):
        field.data = normalize.katakana(field.data or "")
        if not normalize.is_katakana(field.data):
            raise ValidationError(MESSAGES["field.kana_venue"])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SeatsMixin:
    capacity = IntegerField("1枠の定員", 1, 500, "field.capacity", default=2,
                            validators=[InputRequired(MESSAGES["field.capacity"])])
    phone_seats = IntegerField("うち電話予約用の枠", 0, 500, "field.seats", default=0,
                               validators=[InputRequired(MESSAGES["field.seats"])])
    staff_seats = IntegerField("うち窓口予約用の枠", 0, 500, "field.seats", default=0,
                               validators=[InputRequired(MESSAGES["field.seats"])])

    def validate_staff_seats(self, field):
        if None not in (self.capacity.data, self.phone_seats.data, field.data) and \
                self.phone_seats.data + field.data > self.capacity.data:
            raise ValidationError(MESSAGES["field.seats"])


class GenerateForm(RangeMixin, SeatsMixin, Form):
    venue = SelectField("会場", coerce=coerce_id, validate_choice=True)
    weekdays = MultiCheckboxField("曜日", coerce=coerce_integer, default=[0, 1, 2, 3, 4],
                                  choices=[SelectChoice(i, name) for i, name in enumerate(WEEKDAY_NAMES)])
    hours = StringField("受付時間", default="09:00-12:00,13:00-17:00", validators=[required()],
                        render_kw={"placeholder": "09:00-12:00,13:00-17:00"})

    def validate_weekdays(self, field):
        if not field.data:
            raise ValidationError(MESSAGES["field.weekdays"])

    def validate_hours(self, field):
        try:
            parse_hours(field.data or "")
        except ValueError:
            raise ValidationError(MESSAGES["field.hours"]) from None


class CapacityForm(RangeMixin, TimesMixin, Form):
    venue = SelectField("会場", coerce=coerce_id, validate_choice=True)
    change = StringField("増減（例 +2、-1）", render_kw={"inputmode": "numeric"})
    set_to = IntegerField("または新しい定員", 0, 500, "field.capacity", validators=[Optional()])

    def delta(self) -> int | None:
        text = unicodedata.normalize("NFKC", self.change.data or "").replace(" ", "")
        return normalize.integer(text, -500, 500) if text else None

    def validate_change(self, field):
        if (field.data or "").strip() and self.delta() is None:
            raise ValidationError(MESSAGES["field.change"])
        if (self.delta() is None) == (self.set_to.data is None):
            raise ValidationError(MESSAGES["field.change"])


class CloseForm(RangeMixin, TimesMixin, Form):
    venue = SelectField("会場", coerce=coerce_id, validate_choice=True)
    reason = StringField("休止の理由（市民にも表示されます）", validators=[Length(max=200)])


class SlotForm(SeatsMixin, Form):
    pass


class WindowForm(Form):
    opens_days_before = IntegerField("受付開始：何日前から", 1, 365, "field.number",
                                     validators=[InputRequired(MESSAGES["field.number"])])
    opens_time = StringField("受付開始の時刻", validators=[required()])
    closes_days_before = IntegerField("受付終了：何日前まで", 0, 364, "field.number",
                                      validators=[InputRequired(MESSAGES["field.number"])])
    closes_time = StringField("受付終了の時刻", validators=[required()])

    def validate_opens_time(self, field):
        _clock_time(field)

    def validate_closes_time(self, field):
        _clock_time(field)


def _clock_time(field) -> None:
    if normalize.clock_time(field.data) is None:
        raise ValidationError(MESSAGES["field.time"])


class QuestionForm(Form):
    text = StringField("確認事項", validators=[required(), Length(max=500)])
    guidance = TextAreaField("当てはまらない人への案内", validators=[Length(max=1000)])
    required_check = BooleanField("チェックが必要", default=True)
    sort_order = IntegerField("表示順", 0, 9999, "field.sort_order", default=0, validators=[Optional()])
    active = BooleanField("表示する", default=True)


class NoticeForm(Form):
    text = TextAreaField("お知らせ（空にすると表示しません）", validators=[Length(max=1000)])


# --- bookings --------------------------------------------------------------------------------------

class SearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    number = StringField("予約番号", validators=[Length(max=20, message=MESSAGES["field.too_long"])])
    kana = StringField("フリガナ", validators=[Length(max=60, message=MESSAGES["field.too_long"])])
    phone = StringField("電話番号", validators=[Length(max=30, message=MESSAGES["field.too_long"])])
    date = DayField("日付", validators=[Optional()])
    venue = SelectField("会場", coerce=coerce_id, validate_choice=False)
    status = SelectField("状態", choices=[SelectChoice(v, label) for v, label in (
        ("", "すべて"), ("confirmed", "予約中"), ("attended", "来庁済"), ("no_show", "来庁なし"), ("cancelled", "取消"))])


class PersonMixin:
    name = StringField("お名前", validators=[required(), Length(max=60, message=MESSAGES["field.name"])])
    kana = StringField("フリガナ", validators=[required()])
    party_size = IntegerField("人数", 1, 10, "field.party_size", default=1,
                              validators=[InputRequired(MESSAGES["field.party_size"])])

    def validate_kana(self, field):
        if not normalize.is_katakana(normalize.katakana(field.data or "")):
            raise ValidationError(MESSAGES["field.kana"])


class OnBehalfForm(PersonMixin, Form):
    phone = StringField("電話番号", validators=[required()], render_kw={"inputmode": "tel"})
    birth_date = DayField("生年月日", validators=[InputRequired(MESSAGES["field.birth_date"])],
                          message_key="field.birth_date")
    email = StringField("メールアドレス（任意）", validators=[Optional(), Length(max=254)])
    notify = SelectField("お知らせ", default="sms",
                         choices=[SelectChoice(v, label) for v, label in (("sms", "SMS"), ("email", "メール"), ("none", "送らない"))])
    override_reason = StringField("定員を超える場合の理由（管理者のみ）", validators=[Length(max=200)])
    nonce = HiddenField()

    def validate_phone(self, field):
        if normalize.phone(field.data or "") is None:
            raise ValidationError(MESSAGES["field.phone"])

    def validate_email(self, field):
        if (field.data or "").strip() and normalize.email(field.data) is None:
            raise ValidationError(MESSAGES["field.email"])


class EditForm(PersonMixin, Form):
    version = forms.version_field(MESSAGES["booking.stale"])


class WalkInForm(PersonMixin, Form):
    pass


class VersionForm(Form):
    version = forms.version_field(MESSAGES["booking.stale"])
    status = HiddenField()
    override_reason = StringField("定員を超える場合の理由（管理者のみ）", validators=[Length(max=200)])


# --- texts, logs, statistics -----------------------------------------------------------------------

class TextForm(Form):
    subject = StringField("件名（メール）", validators=[Length(max=200)])
    body = TextAreaField("本文", validators=[required()], render_kw={"rows": 12})


class LogFilterForm(Form):
    class Meta:
        csrf = False

    first = DayField("開始日", validators=[Optional()])
    last = DayField("終了日", validators=[Optional()])
    actor = StringField("職員（ログインID）", validators=[Length(max=40, message=MESSAGES["field.too_long"])])
    action = StringField("操作", validators=[Length(max=100, message=MESSAGES["field.too_long"])])


class StatisticsForm(Form):
    class Meta:
        csrf = False

    first = DayField("開始日", validators=[Optional()])
    last = DayField("終了日", validators=[Optional()])
    venue = SelectField("会場", coerce=coerce_id, validate_choice=False)


class UserForm(Form):
    login = StringField("ログインID（英小文字・数字）", validators=[required(), Length(max=40)],
                        render_kw={"autocapitalize": "none", "spellcheck": "false"})
    display_name = StringField("名前（画面と印刷に出ます）", validators=[required(), Length(max=60)])
    role = SelectField("権限", default="staff", choices=[SelectChoice(v, label) for v, label in (
        ("staff", "職員（予約と枠の操作）"), ("viewer", "閲覧のみ"), ("admin", "管理者"))])
    expires = DayField("有効期限（任意：この日まで使えます）", validators=[Optional()])
    edits_flows = BooleanField("電話の流れ（ボタン操作の案内）も編集・公開できる（職員のみ）", default=False)

    def validate_edits_flows(self, field):
        if field.data and self.role.data != "staff":
            raise ValidationError(MESSAGES["users.flows_staff_only"])

    def validate_login(self, field):
        field.data = (field.data or "").strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,39}", field.data):
            raise ValidationError(MESSAGES["field.login"])


class ExpiryForm(Form):
    expires = DayField("有効期限（空にすると期限なし）", validators=[Optional()])
