"""DTMF entries: '#' ends an entry, so do its length and a pause; storms and junk are ignored."""

from voice.call.dtmf import DigitCollector
from voice.call.events import DigitsEntered


def test_hash_ends_an_entry():
    c = DigitCollector(max_digits=8)
    assert [c.digit(d, t) for d, t in (("1", 0.0), ("2", 0.5), ("#", 1.0))][-1] == DigitsEntered("12", "terminator")


def test_length_ends_an_entry():
    c = DigitCollector(max_digits=2)
    assert c.digit("4", 0.0) is None
    assert c.digit("2", 0.4) == DigitsEntered("42", "length")


def test_pause_ends_an_entry():
    c = DigitCollector(max_digits=8, inter_digit_timeout_s=3.0)
    c.digit("7", 10.0)
    assert c.deadline() == 13.0
    assert c.tick(12.9) is None
    assert c.tick(13.0) == DigitsEntered("7", "timeout")
    assert c.deadline() is None and c.tick(20.0) is None


def test_storm_and_junk_are_ignored():
    c = DigitCollector(max_digits=8)
    c.digit("3", 0.0)
    for i in range(100):
        c.digit("5", 0.5 + i * 0.001)  # 1,000 digits a second: no hand does that
    c.digit("x", 1.0)
    assert c.buffer == "3"


def test_a_hands_keys_handed_over_together_all_count():
    """A worker busy for a moment takes the keys that queued meanwhile at the same instant: a few of
    them are a hand's, not a storm (「19481212」 arrived as 1948, then 1, 2, 1, 2 at once)."""
    c = DigitCollector(max_digits=8)
    entries = [c.digit(d, t) for d, t in zip("19481212", (0.0, 0.3, 0.6, 0.9, 1.5, 1.5, 1.5, 1.5), strict=True)]
    assert entries[-1] == DigitsEntered("19481212", "length")


def test_hash_alone_is_an_empty_entry():
    assert DigitCollector().digit("#", 0.0) == DigitsEntered("", "terminator")
