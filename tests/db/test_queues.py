"""Call queues (db/queues.py): callers of a group wait in the order they came; the longest waiting one
gets the next free phone (claimed in one transaction, so never offered twice); a phone ringing or
talking on a call (the call log's live state) or just offered is busy; a failed offer keeps the
caller's place; a full queue refuses; each wait ends connected (its wait until the offer), abandoned
or timed out."""

import datetime

import pytest

from db import queues, targets
from db.models import CallRecord, QueueEntry
from tests.conftest import ADMIN, NOW


@pytest.fixture
def desks(db):
    for name, number in (("窓口A", "2101"), ("窓口B", "2102")):
        targets.save(name, f"sip:{number}@127.0.0.1", "", ADMIN, NOW, group="国保")
    targets.save("課長", "sip:2199@127.0.0.1", "", ADMIN, NOW)  # in no group


def later(seconds: float) -> datetime.datetime:
    return NOW + datetime.timedelta(seconds=seconds)


def test_the_longest_waiting_caller_gets_the_next_free_phone(desks):
    CallRecord.create(sip_call_id="busy", did="x", worker=0, started_at=NOW, live_state="talking:窓口A")
    CallRecord.create(sip_call_id="ringing", did="x", worker=0, started_at=NOW, live_state="ringing:窓口B")
    assert queues.join("c1", "0462000001", "国保", 10, NOW) == queues.Waiting(1, 0.0)
    assert queues.join("c2", "0462000001", "国保", 10, later(1)) == queues.Waiting(2, 0.0)
    assert queues.join("c1", "0462000001", "国保", 10, later(2)) == queues.Waiting(1, 2.0)  # joins once
    assert queues.poll("c1", later(3)) == queues.Waiting(1, 3.0)  # both phones busy
    CallRecord.update(live_state="flow").where(CallRecord.sip_call_id == "ringing").execute()
    assert queues.poll("c2", later(4)) == queues.Waiting(2, 3.0)  # not its turn, though 窓口B is free
    assert queues.poll("c1", later(5)) == queues.Offered("窓口B")
    assert queues.poll("c1", later(6)) == queues.Offered("窓口B")  # asked again: the same offer
    assert queues.poll("c2", later(6)) == queues.Waiting(1, 5.0)  # 窓口B is offered: busy for the next one
    assert queues.free_targets("国保", later(6)) == []


def test_a_failed_offer_keeps_the_place_and_the_ends_are_recorded(desks):
    queues.join("c1", "d", "国保", 10, NOW)
    queues.join("c2", "d", "国保", 10, later(1))
    assert queues.poll("c1", later(2)) == queues.Offered("窓口A")
    assert queues.requeue("c1", later(10)) == queues.Waiting(1, 10.0)
    assert queues.poll("c2", later(11)) == queues.Waiting(2, 10.0)
    assert queues.poll("c1", later(12)) == queues.Offered("窓口A")
    queues.leave("c1", "connected", later(30))
    queues.leave("c2", "abandoned", later(40))
    queues.join("c3", "d", "国保", 10, later(41))
    queues.leave("c3", "timeout", later(341))
    ended = {e.sip_call_id: (e.state, e.wait_s) for e in QueueEntry.select()}
    assert ended == {"c1": ("connected", 12.0), "c2": ("abandoned", 39.0), "c3": ("timeout", 300.0)}
    assert queues.poll("c1", later(400)) is None


def test_a_full_queue_turns_the_next_caller_away(desks):
    queues.join("c1", "d", "国保", 2, NOW)
    queues.join("c2", "d", "国保", 2, NOW)
    assert queues.join("c3", "d", "国保", 2, NOW) is None
    assert queues.join("c3", "d", "住民票", 2, NOW) == queues.Waiting(1, 0.0)  # another group's queue


def test_a_group_without_phones_never_offers(desks):
    queues.join("c1", "d", "だれもいない", 10, NOW)
    assert queues.poll("c1", later(5)) == queues.Waiting(1, 5.0)
    assert targets.groups() == {"国保": ["窓口A", "窓口B"]}
