"""The media timeout rule: no packets from the caller for timeout_s ends the call; a call on hold, or
one whose packets keep coming, does not; it is asked at most once a second."""

from voice.call.media import MediaWatch


def test_no_packets_for_the_timeout_ends_the_call():
    watch = MediaWatch(timeout_s=8)
    watch.started(0.0)
    assert not watch.timed_out(10, on_hold=False, now=1.0)
    assert not watch.due(1.5) and watch.due(2.0)
    assert not watch.timed_out(10, on_hold=False, now=8.9)
    assert watch.timed_out(10, on_hold=False, now=9.0)


def test_packets_or_hold_keep_the_call():
    watch = MediaWatch(timeout_s=8)
    watch.started(0.0)
    for second in range(1, 30):
        assert not watch.timed_out(second * 50, on_hold=False, now=float(second))
    for second in range(30, 60):
        assert not watch.timed_out(1450, on_hold=True, now=float(second))
