"""The phone's prompts as the flows use them: every prompt the flows say exists and is filled with
exactly the placeholders of its default (so an edit that keeps them, as db.prompts insists, can never
break a call), the lists the admin site validates lines against are voice's own, and a staff edit
reaches the next call's FlowContext but not a call already in progress."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from db import lines
from db import prompts as stored
from db.models import PromptText
from tests.conftest import ADMIN, NOW
from tests.voice.playbook import Playbook, context, keys, reply, said, silence, started
from voice import prompts
from voice.call.events import Answer, Listen
from voice.call.requests import Choices, VenueChoice
from voice.flows import flow_names
from voice.flows.booking import BookingFlow
from voice.flows.echo import EchoFlow
from voice.tts import ENGINES, VOICE_NAMES

FLOWS = Path(__file__).resolve().parents[2] / "voice" / "flows"
# where a flow names its prompts: (files, the method, the catalogue section)
SAYERS = [((FLOWS / "echo.py",), "_say", "echo"), (tuple(sorted((FLOWS / "booking").glob("*.py"))), "prompt", "booking")]
DYNAMIC = {"booking.nomatch", "booking.noinput"}  # dialog.py: self.prompt(kind) for a miss of either kind


def prompt_calls():
    """(key, keyword names, where) of every literal-key prompt call in the flows, and the dynamic ones."""
    found, dynamic = [], []
    for files, method, section in SAYERS:
        for path in files:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == method and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "self"):
                    continue
                where = f"{path.name}:{node.lineno}"
                first = node.args[0] if node.args else None
                names = [kw.arg for kw in node.keywords]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((f"{section}.{first.value}", names, where))
                else:
                    dynamic.append(where)
    return found, dynamic


def test_every_prompt_the_flows_say_is_filled_with_exactly_its_placeholders():
    """Parsing voice/flows: each self.prompt("key", ...) / self._say("key", ...) names a prompt of the
    catalogue and passes exactly the placeholders of its default text (no **values whose names cannot be
    checked); every prompt of the catalogue is said somewhere."""
    calls, dynamic = prompt_calls()
    assert len(calls) > 80 and len(dynamic) == 1, dynamic
    defaults = stored.defaults()
    for key, names, where in calls:
        assert key in defaults, f"{where}: {key} is not in db/prompts.toml"
        assert None not in names, f"{where}: {key} is filled with **values"
        assert sorted(names) == sorted(stored.placeholder_names(key)), f"{where}: {key} filled with {names}"
    assert set(defaults) - {key for key, _, _ in calls} == DYNAMIC
    assert all(stored.placeholder_names(key) == () for key in DYNAMIC)


def test_the_admin_sites_lists_are_voices_own():
    """db.lines lists the flows and voices a line may have on the admin site (which may not import
    voice): they are exactly what voice.flows and voice.tts accept; db.prompts' sections are flows."""
    assert list(lines.FLOWS) == flow_names()
    assert set(stored.SECTIONS) <= set(flow_names())
    by_engine: dict[str, set[str]] = {}
    for engine, name in lines.voices():
        by_engine.setdefault(engine, set()).add(name)
    assert by_engine == {engine: {"", *VOICE_NAMES[engine]} for engine in ENGINES}


def test_a_staff_edit_reaches_the_next_call_and_not_the_one_in_progress(db):
    """for_call() is what the worker gives a call coming in (voice/sip/worker.py): a greeting saved on
    the admin site is what the next call's flow says; a call already going keeps its prompts."""
    going = dataclasses.replace(context("echo"), prompts=prompts.for_call())
    stored.save("echo.greeting", "試験の電話です。どうぞお話しください。", ADMIN, NOW)
    stored.save("booking.greeting", "{city}の予約の電話です。", ADMIN, NOW)
    incoming = dataclasses.replace(context("echo"), prompts=prompts.for_call())
    assert (Playbook(EchoFlow(incoming)) << started() >> Answer() >> said("試験の電話です。どうぞお話しください。")
            >> Listen)
    assert (Playbook(EchoFlow(going)) << started() >> Answer() >> said("デモ市の自動応答の試験です") >> Listen)
    booking = BookingFlow(dataclasses.replace(context("booking"), prompts=prompts.for_call()))
    assert (Playbook(booking) << started() >> Answer() >> said("デモ市の予約の電話です。", "ご用件をお話しください")
            >> Listen)
    with pytest.raises(TypeError):
        incoming.prompts["echo.greeting"] = "x"  # a call's prompts are read-only


def test_edited_prompts_with_moved_placeholders_fill_in_a_booking_call(db):
    """Edits that move and repeat placeholders and reword a miss still make a working call: the
    eligibility question, the venue menu and 「聞き取れませんでした」 all come out filled."""
    stored.save("booking.eligibility", "確認です。{question}。当てはまれば1、違えば2。{question}", ADMIN, NOW)
    stored.save("booking.venue_keys", "会場の番号です。{options}。", ADMIN, NOW)
    stored.save("booking.noinput", "聞こえませんでした、すみません。", ADMIN, NOW)
    venues = (VenueChoice(1, "本庁舎", "ホンチョウシャ"), VenueChoice(2, "北支所", "キタシショ"))
    from voice.call.requests import LoadChoices, Question
    choices = Choices(venues, (Question(1, "更新の手続きです。", True, "別の手続きです"),))
    booking = BookingFlow(dataclasses.replace(context("booking"), prompts=prompts.for_call()))
    assert (Playbook(booking)
            << started() >> Answer() >> said() >> Listen
            << keys("1") >> (lambda command: type(command) is LoadChoices)
            << reply(choices) >> said("確認です。更新の手続きです。当てはまれば1、違えば2。更新の手続きです") >> Listen
            << keys("1") >> said("ご希望の会場") >> Listen
            << keys("9") >> said("会場の番号です。1番、本庁舎、2番、北支所。") >> Listen
            << silence() >> said("聞こえませんでした、すみません。") >> Listen)


def test_a_call_is_answered_with_the_defaults_when_the_edits_cannot_be_read(db, monkeypatch):
    PromptText.create(key="echo.greeting", text="読めない編集です。", updated_at=NOW)

    def broken():
        raise OSError("disk I/O error")
    monkeypatch.setattr(stored, "for_call", broken)
    assert dict(prompts.for_call()) == stored.defaults()
