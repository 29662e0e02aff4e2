"""Call queues: callers of a flow's queue node wait for the phones of a group (db/targets.py groups);
the longest waiting caller gets the next free phone. Every waiting call asks again every few seconds
(voice/flows/ivr): a claim is one write transaction, so two workers never offer one phone to two
callers. A phone is busy while a call rings it or talks with it (the call log's live state) or while it
is offered to a caller whose transfer has not started yet. What became of each wait (connected,
abandoned, timed out) is kept for the statistics. Services never commit: the caller owns the
transaction."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db import targets
from db.models import CallRecord, QueueEntry

OFFER_HOLD_S = 45.0  # a phone offered to a caller counts as busy this long (the transfer rings meanwhile)


@dataclass(frozen=True)
class Waiting:
    position: int  # 1 = next
    waited_s: float  # since the caller joined


@dataclass(frozen=True)
class Offered:
    target: str  # the phone to transfer to now


def join(sip_call_id: str, did: str, group: str, max_length: int, now: datetime.datetime) -> Waiting | None:
    """Enter the queue (or stay in it: the same call joins once); None when it is full."""
    mine = _current(sip_call_id)
    if mine is not None:
        return Waiting(_position(mine), _waited(mine, now))
    waiting = QueueEntry.select().where((QueueEntry.group_name == group) & (QueueEntry.state == "waiting")).count()
    if waiting >= max_length:
        return None
    entry = QueueEntry.create(sip_call_id=sip_call_id, did=did, group_name=group, entered_at=now)
    return Waiting(_position(entry), 0.0)


def poll(sip_call_id: str, now: datetime.datetime) -> Waiting | Offered | None:
    """The caller's turn with a free phone (claimed for it), or its place; None when it is in no queue."""
    mine = _current(sip_call_id)
    if mine is None:
        return None
    if mine.state == "offered":
        return Offered(mine.target)
    position = _position(mine)
    if position == 1:
        free = free_targets(mine.group_name, now)
        if free:
            claimed = (QueueEntry.update(state="offered", target=free[0], offered_at=now)
                       .where((QueueEntry.id == mine.id) & (QueueEntry.state == "waiting")).execute())
            if claimed:
                return Offered(free[0])
    return Waiting(position, _waited(mine, now))


def requeue(sip_call_id: str, now: datetime.datetime) -> Waiting | None:
    """The phone offered did not answer or was busy: the caller waits again, keeping its place."""
    mine = _current(sip_call_id)
    if mine is None:
        return None
    QueueEntry.update(state="waiting", target="", offered_at=None).where(QueueEntry.id == mine.id).execute()
    return Waiting(_position(QueueEntry.get_by_id(mine.id)), _waited(mine, now))


def leave(sip_call_id: str, state: str, now: datetime.datetime) -> None:
    """The wait ended: connected (the phone offered answered: the wait is until it was offered), abandoned
    (hung up) or timeout."""
    for entry in QueueEntry.select().where((QueueEntry.sip_call_id == sip_call_id)
                                           & QueueEntry.state.in_(("waiting", "offered"))):
        if state == "connected" and entry.state != "offered":
            state = "abandoned"  # hung up while waiting, after an earlier transfer of the same call
        entry.state, entry.left_at = state, now
        entry.wait_s = _waited(entry, entry.offered_at if state == "connected" and entry.offered_at else now)
        entry.save()


def free_targets(group: str, now: datetime.datetime) -> list[str]:
    members = targets.groups().get(group, [])
    if not members:
        return []
    busy = set()
    for (state,) in (CallRecord.select(CallRecord.live_state)
                     .where(CallRecord.ended_at.is_null() & (CallRecord.live_state != "")).tuples()):
        kind, _, target = state.partition(":")
        if kind in ("ringing", "talking"):
            busy.add(target)
    since = now - datetime.timedelta(seconds=OFFER_HOLD_S)
    busy.update(target for (target,) in QueueEntry.select(QueueEntry.target)
                .where((QueueEntry.state == "offered") & (QueueEntry.offered_at > since)).tuples())
    return [name for name in members if name not in busy]


def _waited(entry: QueueEntry, now: datetime.datetime) -> float:
    return round(max(0.0, (now - entry.entered_at).total_seconds()), 1)


def _current(sip_call_id: str) -> QueueEntry | None:
    return QueueEntry.get_or_none((QueueEntry.sip_call_id == sip_call_id)
                                  & QueueEntry.state.in_(("waiting", "offered")))


def _position(entry: QueueEntry) -> int:
    ahead = (QueueEntry.select().where((QueueEntry.group_name == entry.group_name) & (QueueEntry.state == "waiting")
                                       & ((QueueEntry.entered_at < entry.entered_at)
                                          | ((QueueEntry.entered_at == entry.entered_at) & (QueueEntry.id < entry.id))))
             .count())
    return ahead + 1
