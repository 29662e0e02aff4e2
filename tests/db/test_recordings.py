"""Recordings read back below the voice engine: the whole file as a WAV (refused when cut short), a
segment of the right length and place that decrypts only what it needs, and a turn's window with its
padding."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from db import recordings
from db.crypto import DecryptionError, FieldCipher
from db.keys import create_keys, load_keyring
from tests.calls import caller_audio, tone, write_recording


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    keys = tmp_path_factory.mktemp("recordings") / "keys"
    create_keys(keys)
    return FieldCipher(load_keyring(keys))


@pytest.fixture
def recorded(tmp_path, cipher, monkeypatch):
    """20 s of a call: silence with a 1 kHz answer at 3-4 s and a 2 kHz one at 15-16.5 s."""
    from db import crypto
    monkeypatch.setattr(crypto, "_cipher", cipher)
    audio = caller_audio(20.0, [(3.0, tone(1.0, 1000)), (15.0, tone(1.5, 2000))])
    write_recording("call.ulaw.enc", audio, tmp_path)
    return tmp_path / "call.ulaw.enc"


def read_wav(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def peak_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_whole_recording_is_a_wav_of_its_length(recorded, cipher):
    rate, samples = read_wav(recordings.to_wav(recorded, cipher))
    assert rate == 8000 and len(samples) == 20 * 8000


def test_segment_has_the_right_length_and_the_sound_of_that_moment(recorded, cipher):
    """3.0-4.0 s is the 1 kHz answer and only it; 15.0-16.5 s (past the first 64 KiB chunk) the 2 kHz one."""
    first = recordings.segment_samples(recorded, cipher, 3.0, 4.0)
    assert len(first) == 8000 and peak_hz(first) == pytest.approx(1000, abs=10)
    rate, second = read_wav(recordings.segment_wav(recorded, cipher, 15.0, 16.5))
    assert rate == 8000 and len(second) == 12000 and peak_hz(second) == pytest.approx(2000, abs=10)
    quiet = recordings.segment_samples(recorded, cipher, 8.0, 9.0)
    assert np.abs(quiet.astype(np.int32)).max() < 50


def test_segment_is_clipped_to_the_recording(recorded, cipher):
    assert len(recordings.segment_samples(recorded, cipher, 19.5, 25.0)) == 4000
    assert len(recordings.segment_samples(recorded, cipher, 30.0, 31.0)) == 0
    assert len(recordings.segment_samples(recorded, cipher, -1.0, 0.5)) == 4000


def test_segment_decrypts_only_the_chunks_it_needs(recorded, cipher):
    """A segment at the start does not read the damaged end of the file; the whole recording is refused."""
    data = recorded.read_bytes()
    recorded.write_bytes(data[:-10])
    assert len(recordings.segment_samples(recorded, cipher, 3.0, 4.0)) == 8000
    with pytest.raises(DecryptionError):
        recordings.to_wav(recorded, cipher)
    with pytest.raises(DecryptionError):
        recordings.segment_samples(recorded, cipher, 15.0, 16.5)


def test_another_key_cannot_read_a_segment(recorded, tmp_path):
    create_keys(tmp_path / "other")
    with pytest.raises(DecryptionError):
        recordings.segment_samples(recorded, FieldCipher(load_keyring(tmp_path / "other")), 3.0, 4.0)


def test_turn_window_pads_the_answer():
    """An utterance gets 0.3 s before and 0.5 s after; a key entry a fixed length; silence no window."""
    assert recordings.turn_window(3.0, 1.0) == pytest.approx((2.7, 4.5))
    assert recordings.turn_window(0.1, 1.0) == pytest.approx((0.0, 1.6))
    assert recordings.turn_window(10.0, None) == pytest.approx((9.7, 12.0))
    assert recordings.turn_window(None, None) is None


def test_ulaw_decode_matches_the_voice_engines_encoder():
    """db.recordings decodes what voice.audio encodes (G.711 μ-law), within one quantisation step."""
    from voice import audio
    x = np.arange(-32768, 32768, 13, dtype=np.int32).astype(np.int16)
    back = recordings.ulaw_decode(audio.ulaw_encode(x)).astype(np.int32)
    assert np.all(np.abs(back - x) <= np.maximum(4, np.abs(x.astype(np.int32)) // 16))
    assert audio.ulaw_decode is recordings.ulaw_decode
