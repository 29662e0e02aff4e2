"""What both sites' forms and views share: a base form that reads only text form fields, fields that
parse with db.normalize (the one parser per kind of value), and the same parsers for query
parameters. A value that cannot be one gets the field's Japanese message, never a 500."""

from __future__ import annotations

import datetime

import wtforms
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto, _is_submitted
from wtforms.meta import DefaultMeta
from wtforms.widgets import HiddenInput

from db import normalize


class Form(FlaskForm):
    """Form data comes from the text fields of a POST only: a file part where a text field is expected
    is ignored (no form here takes files), and so is a JSON body (its values need not be text).
    Every text field is checked for characters that are no text (NUL, other controls, lone
    surrogates): `invalid_text` is the message, set by each site's forms. WTForms' own messages, where
    one still shows, are its Japanese ones."""

    invalid_text = "使えない文字が含まれています。"

    class Meta(FlaskForm.Meta):
        locales = ("ja",)

        def wrap_formdata(self, form, formdata):
            if formdata is _Auto:
                return request.form if _is_submitted() else None
            return formdata

        def get_translations(self, form):
            return DefaultMeta.get_translations(self, form)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, wtforms.StringField) and isinstance(field.data, str):
                multiline = isinstance(field, wtforms.TextAreaField)
                if normalize.text(field.data, max_length=len(field.data), multiline=multiline) is None:
                    field.errors = [*field.errors, self.invalid_text]
                    valid = False
        return valid


class IntegerField(wtforms.IntegerField):
    """A whole number from low to high, full-width digits accepted, other digits and larger numbers
    refused with `message`. Empty leaves data None for InputRequired or Optional to judge."""

    def __init__(self, label=None, validators=None, *, low: int, high: int, message: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.message = low, high, message

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = normalize.integer(valuelist[0], self.low, self.high)
        if self.data is None:
            raise ValueError(self.message)


def version_field(message: str) -> IntegerField:
    """The version of a record the person saw (hidden), sent back to detect a stale edit."""
    return IntegerField(widget=HiddenInput(), low=0, high=normalize.MAX_ID, message=message)


class DayField(wtforms.DateField):
    """A date typed or picked as 2026-12-10 (or 2026/12/10); a date that does not exist, or a year
    outside 1900-2200, gets `message`."""

    def __init__(self, label=None, validators=None, *, message: str, **kwargs):
        kwargs.setdefault("render_kw", {"type": "date"})
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = normalize.iso_date(valuelist[0])
        if self.data is None:
            raise ValueError(self.message)


def coerce_integer(value: object) -> int:
    """SelectField(coerce=coerce_integer): choices are ints, the submitted value ASCII digits."""
    parsed = value if isinstance(value, int) else normalize.integer(value, -normalize.MAX_ID, normalize.MAX_ID)
    if parsed is None:
        raise ValueError("not an integer")
    return parsed


def coerce_id(value: object) -> int:
    """SelectField(coerce=coerce_id): a row id, or 0 for the 'every one' choice; ValueError otherwise."""
    if value in ("", "0", 0, None):
        return 0
    parsed = value if isinstance(value, int) else normalize.record_id(value)
    if parsed is None:
        raise ValueError("not an id")
    return parsed


# --- query parameters ------------------------------------------------------------------------------

def arg_id(name: str) -> int | None:
    return normalize.record_id(request.args.get(name))


def arg_date(name: str) -> datetime.date | None:
    return normalize.iso_date(request.args.get(name))


def arg_month(name: str) -> tuple[int, int] | None:
    return normalize.year_month(request.args.get(name))


def arg_time(name: str) -> datetime.time | None:
    return normalize.clock_time(request.args.get(name))


def arg_integer(name: str, default: int, low: int, high: int) -> int:
    value = normalize.integer(request.args.get(name), low, high)
    return default if value is None else value
