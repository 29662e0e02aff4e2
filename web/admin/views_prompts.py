"""What the phone says, on the admin site: the prompts of each line flow (edit, 「元に戻す」, hear them in a
line's voice and speed), and the phone lines (name, flow, voice, speed of speech, volume, recording).
The audio comes from `madoguchi voice say` (web/admin/speech.py): the sites may not import voice."""

from __future__ import annotations

import re
import unicodedata

from flask import Response, abort, flash, redirect, render_template, request, url_for
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional

from appliance import clock
from db import lines, normalize, prompts
from db.connection import write_transaction
from db.models import PhoneLine
from web.admin.access import actor
from web.admin.forms import MESSAGES, Form, required
from web.admin.speech import SpeechFailed, SpeechVoice, say
from web.forms import IntegerField, coerce_id

_DECIMAL = re.compile(r"\d(?:\.\d{1,2})?")


class DecimalField(StringField):
    """A number like 0.85 (full-width digits accepted) within low..high; else `message`."""

    def __init__(self, label, *, low: float, high: float, message: str, optional: bool = False, **kwargs):
        super().__init__(label, **kwargs)
        self.low, self.high, self.message, self.optional, self.number = low, high, message, optional, None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        text = unicodedata.normalize("NFKC", self.data or "").strip()
        if not text and self.optional:
            return
        self.number = float(text) if _DECIMAL.fullmatch(text) else None
        if self.number is None or not self.low <= self.number <= self.high:
            self.number = None
            raise ValueError(self.message)


def _voice_value(engine: str, name: str) -> str:
    return f"{engine}:{name}"


def _voice_choices() -> list[tuple[str, str]]:
    return [(_voice_value(engine, name), label) for (engine, name), label in lines.voices().items()]


def _speed_field(optional: bool = False):
    low, high = lines.SPEED
    return DecimalField("話す速さ（1が標準、小さいほどゆっくり）", low=low, high=high, optional=optional,
                        message=MESSAGES["field.tts_speed"], render_kw={"inputmode": "decimal", "size": 5})


def _volume_field(optional: bool = False):
    low, high = lines.VOLUME
    return DecimalField("音量（0.05〜1、0.7が標準）", low=low, high=high, optional=optional,
                        message=MESSAGES["field.tts_volume"], render_kw={"inputmode": "decimal", "size": 5})


class PromptForm(Form):
    text = TextAreaField("電話で話す文", validators=[required()], render_kw={"rows": 5})
    line = SelectField("試聴する声（電話番号）", coerce=coerce_id, validate_choice=True)


class LineForm(Form):
    label = StringField("名前", validators=[Length(max=lines.LABEL_MAX_CHARS, message=MESSAGES["field.too_long"])])
    flow = SelectField("電話の流れ", validate_choice=True)
    voice = SelectField("声", validate_choice=True)
    speed = _speed_field()
    volume = _volume_field()
    record = BooleanField("通話を録音する")
    sample = SelectField("試聴する文", validate_choice=False)  # only for the preview: checked there


class AudioForm(Form):
    """The preview's query: which line's voice, optionally a text being edited and an unsaved voice."""

    class Meta:
        csrf = False

    line = IntegerField(low=1, high=normalize.MAX_ID, message=MESSAGES["field.number"])
    text = StringField(validators=[Length(max=prompts.MAX_CHARS)])
    voice = StringField(validators=[Optional(), AnyOf([_voice_value(*voice) for voice in lines.voices()])])
    speed = _speed_field(optional=True)
    volume = _volume_field(optional=True)


# --- prompts ----------------------------------------------------------------------------------------

def _key_or_404(key: str) -> None:
    if key not in prompts.defaults():
        abort(404)


def _lines_for(section: str) -> list[PhoneLine]:
    """The lines that say this flow's prompts (every line when none does: a preview needs a voice)."""
    every = list(PhoneLine.select().order_by(PhoneLine.did))
    return [line for line in every if line.flow == section] or every


def prompts_index():
    listing = prompts.listing()
    flows = {section: (prompts.flow_label(section), [ln for ln in _lines_for(section) if ln.flow == section])
             for section in listing}
    return render_template("admin/prompts.html", listing=listing, flows=flows)


def prompt_edit(key: str):
    _key_or_404(key)
    current = prompts.current(key)
    choices = [(line.id, f"{line.did} {line.label}".strip()) for line in _lines_for(current.section)]
    form = PromptForm(data={"text": current.text} if request.method == "GET" else None)
    form.line.choices = choices or [(0, MESSAGES["prompts.standard_voice"])]
    found: list[str] = []
    audio_url = None
    if form.validate_on_submit():
        action = request.form.get("action", "preview")
        if action == "reset":
            with write_transaction():
                prompts.reset(key, actor(), clock.now())
            flash(MESSAGES["prompts.reset"], "info")
            return redirect(url_for(".prompt_edit", key=key))
        found = prompts.problems(key, form.text.data)
        if action == "save" and not found:
            with write_transaction():
                prompts.save(key, form.text.data, actor(), clock.now())
            flash(MESSAGES["prompts.saved"], "info")
            return redirect(url_for(".prompt_edit", key=key))
        if not found:
            audio_url = url_for(".prompt_audio", key=key, line=form.line.data or None,
                                text=prompts.normalize_text(form.text.data))
    elif request.method == "GET":
        audio_url = url_for(".prompt_audio", key=key, line=form.line.data or (choices[0][0] if choices else None))
    text = form.text.data or ""
    filled = prompts.fill(key, text) if text and not prompts.problems(key, text) else ""
    return render_template("admin/prompt_edit.html", form=form, key=key, current=current, problems=found,
                           filled=filled, audio_url=audio_url, placeholders=prompts.placeholders(key),
                           flow_label=prompts.flow_label(current.section)), 422 if (found or form.errors) else 200


def _voice_for(form: AudioForm) -> SpeechVoice:
    """The line's voice (or the standard one), with what the form overrides."""
    line = None
    if form.line.data is not None:
        line = PhoneLine.get_or_none(PhoneLine.id == form.line.data) or abort(404)
    engine, name = (line.tts_engine, line.tts_voice) if line else ("openjtalk", "")
    if form.voice.data:
        engine, _, name = form.voice.data.partition(":")
    speed = form.speed.number if form.speed.number is not None else (line.tts_speed if line else 1.0)
    volume = form.volume.number if form.volume.number is not None else (line.tts_volume if line else 0.7)
    return SpeechVoice(engine, name, speed, volume)


def prompt_audio(key: str):
    """The prompt (or the text being edited) filled with the sample values, as a WAV file."""
    _key_or_404(key)
    form = AudioForm(request.args)
    if not form.validate():
        abort(422)
    text = form.text.data or prompts.current(key).text
    if prompts.problems(key, text):
        abort(422)
    try:
        wav = say(prompts.fill(key, text), _voice_for(form))
    except SpeechFailed:
        abort(503)
    return Response(wav, mimetype="audio/wav")


# --- phone lines ------------------------------------------------------------------------------------

def lines_index():
    rows = list(PhoneLine.select().order_by(PhoneLine.did))
    return render_template("admin/lines.html", rows=rows, voices=lines.voices(),
                           flows={section: prompts.flow_label(section) for section in prompts.SECTIONS})


def _flow_label(flow: str) -> str:
    return prompts.flow_label(flow) if flow in prompts.SECTIONS else flow


def line_edit(line_id: int):
    line = PhoneLine.get_or_none(PhoneLine.id == line_id) or abort(404)
    data = {"label": line.label, "flow": line.flow, "voice": _voice_value(line.tts_engine, line.tts_voice),
            "speed": f"{line.tts_speed:g}", "volume": f"{line.tts_volume:g}", "record": line.record,
            "sample": f"{line.flow}.greeting"}
    form = LineForm(data=data if request.method == "GET" else None)
    form.flow.choices = [(flow, _flow_label(flow)) for flow in lines.FLOWS]
    form.voice.choices = _voice_choices()
    samples = {section: [(key, prompts.label(key)) for key in prompts.all_keys(section)
                         if key not in prompts.WRITTEN_KEYS] for section in prompts.SECTIONS}
    form.sample.choices = {_flow_label(section): choices for section, choices in samples.items()}
    sample_keys = {key for choices in samples.values() for key, _label in choices}
    found: list[str] = []
    audio_url = None
    if form.validate_on_submit():
        engine, _, name = form.voice.data.partition(":")
        change = lines.LineChange(form.label.data or "", form.flow.data, engine, name, form.speed.number,
                                  form.volume.number, form.record.data)
        found = lines.problems(change)
        if request.form.get("action") == "save" and not found:
            with write_transaction():
                lines.save(line.id, change, actor(), clock.now())
            flash(MESSAGES["lines.saved"], "info")
            return redirect(url_for(".line_edit", line_id=line.id))
        if not found and form.sample.data in sample_keys:
            audio_url = url_for(".prompt_audio", key=form.sample.data, line=line.id, voice=form.voice.data,
                                speed=f"{form.speed.number:g}", volume=f"{form.volume.number:g}")
    elif request.method == "GET" and form.sample.data in sample_keys:
        audio_url = url_for(".prompt_audio", key=form.sample.data, line=line.id)
    return render_template("admin/line_edit.html", form=form, line=line, problems=found, audio_url=audio_url), \
        422 if (found or form.errors) else 200
