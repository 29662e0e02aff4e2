"""Models with more to them than columns: a call's turns go with the call."""

from __future__ import annotations

from db.models import CallRecord, CallTurn
from tests.calls import make_call, turn
from tests.conftest import NOW


def test_deleting_a_call_deletes_its_turns(db):
    """call_turn rows reference their call ON DELETE CASCADE: a purge or erasure of a call record
    leaves none of what the caller said behind; other calls' turns stay."""
    gone = make_call(NOW, turns=[turn("intent", heard="予約"), turn("name", heard="山田花子")])
    kept = make_call(NOW, turns=[turn("intent", heard="取り消し")])
    assert CallTurn.select().where(CallTurn.call == gone).count() == 2
    CallRecord.delete().where(CallRecord.id == gone.id).execute()
    assert CallTurn.select().where(CallTurn.call_id == gone.id).count() == 0
    assert [t.heard for t in CallTurn.select().where(CallTurn.call == kept)] == ["取り消し"]
