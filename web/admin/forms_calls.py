"""Forms of the phone pages: the call log's filter, the statistics' period and the correction of a
misrecognised turn. Messages come from web/admin/calls.toml and messages.toml; control characters
are refused by the base form (web/forms.py)."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from web.admin.calls import MAX_DAYS, texts
from web.admin.forms import MESSAGES, DayField, Form

CORRECTION_MAX = 200


def _choices(first: str, pairs) -> list[SelectChoice]:
    return [SelectChoice("", first), *(SelectChoice(value, name) for value, name in pairs)]


class CallFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    did = SelectField("回線", default="", validate_choice=True)
    first = DayField("開始日", validators=[Optional()])
    last = DayField("終了日", validators=[Optional()])
    outcome = SelectField("結果", default="", validate_choice=True)
    booked = SelectField("予約", default="", validate_choice=True)
    kind = SelectField("種別", default="", validate_choice=True)

    def fill(self, lines, outcomes) -> CallFilterForm:
        t = texts()
        self.did.choices = _choices(t["list.all"], lines)
        self.outcome.choices = _choices(t["list.all"], outcomes)
        self.booked.choices = _choices(t["list.all"], [("yes", t["list.booked_yes"]), ("no", t["list.booked_no"])])
        self.kind.choices = _choices(t["list.all"], [(k, t[f"kind.{k}"]) for k in ("ai", "ivr")])
        return self

    def validate_last(self, field):
        if self.first.data and field.data and field.data < self.first.data:
            raise ValidationError(MESSAGES["field.date_range"])


class CallStatisticsForm(Form):
    class Meta:
        csrf = False

    first = DayField("開始日", validators=[Optional()])
    last = DayField("終了日", validators=[Optional()])
    did = SelectField("回線", default="", validate_choice=True)
    kind = SelectField("種別", default="", validate_choice=True)

    def fill(self, lines) -> CallStatisticsForm:
        t = texts()
        self.did.choices = _choices(t["list.all"], lines)
        self.kind.choices = _choices(t["list.all"], [(k, t[f"kind.{k}"]) for k in ("ai", "ivr")])
        return self

    def validate_last(self, field):
        if self.first.data and field.data:
            if field.data < self.first.data:
                raise ValidationError(texts()["form.range_reversed"])
            if (field.data - self.first.data).days + 1 > MAX_DAYS:
                raise ValidationError(texts()["form.range_too_long"])


class CorrectionForm(Form):
    """What the caller really said at a turn (heard on the recording)."""

    text = StringField("正しい内容（録音で聞こえたとおり）",
                       validators=[Length(max=CORRECTION_MAX, message=texts()["form.correction_long"])],
                       render_kw={"maxlength": CORRECTION_MAX, "autocomplete": "off"})

    def validate_text(self, field):
        field.data = (field.data or "").strip()
        if not field.data:
            raise ValidationError(texts()["form.correction_required"])
