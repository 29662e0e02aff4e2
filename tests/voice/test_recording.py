"""Call recordings: both directions mixed into 8 kHz μ-law without aliasing, encrypted on disk,
exported as a playable WAV, and refused when damaged; transcripts round-trip encrypted."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from db.crypto import DecryptionError, FieldCipher
from db.files import read_file
from db.keys import create_keys, load_keyring
from voice.recording import CallRecorder, load_transcript, save_transcript, to_wav

FRAME = 320  # samples in 20 ms at 16 kHz


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    keys = tmp_path_factory.mktemp("recording") / "keys"
    create_keys(keys)
    return FieldCipher(load_keyring(keys))


def tone(hz, seconds, amplitude=8000, rate=16000):
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def frames(samples):
    return [samples[i:i + FRAME].tobytes() for i in range(0, len(samples), FRAME)]


def record(path, cipher, heard, played=None):
    recorder = CallRecorder(path, cipher)
    played_frames = frames(played) if played is not None else [None] * (len(heard) // FRAME)
    for h, p in zip(frames(heard), played_frames, strict=True):
        recorder.add(h, p)
    recorder.close()
    return recorder


def wav_samples(data):
    with wave.open(io.BytesIO(data)) as w:
        params = (w.getnchannels(), w.getsampwidth(), w.getframerate())
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    return params, samples


def spectrum(samples, rate=8000):
    samples = samples[100:]  # past the filter's start-up
    magnitudes = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / rate), magnitudes


def level_db(freqs, magnitudes, hz, reference_hz=1000):
    def peak(f):
        return magnitudes[np.abs(freqs - f) <= 20].max()
    return 20 * np.log10(peak(hz) / peak(reference_hz))


def test_recording_exports_as_8khz_wav_of_the_right_duration(tmp_path, cipher):
    """Two seconds of 20 ms frames become a mono 16-bit 8 kHz WAV of exactly two seconds whose
    dominant frequency is the 1 kHz tone heard, at about the level it was heard."""
    path = tmp_path / "call.ulaw.enc"
    recorder = record(path, cipher, tone(1000, 2.0))
    assert recorder.seconds == pytest.approx(2.0)
    params, samples = wav_samples(to_wav(path, cipher))
    assert params == (1, 2, 8000)
    assert len(samples) == 16000
    freqs, magnitudes = spectrum(samples)
    assert freqs[magnitudes.argmax()] == pytest.approx(1000, abs=10)
    rms = np.sqrt(np.mean(samples[100:] ** 2))
    assert rms == pytest.approx(8000 / np.sqrt(2), rel=0.1)
    n = np.arange(100, len(samples))
    correlations = [np.corrcoef(samples[100:], np.sin(2 * np.pi * 1000 * (n - delay) / 8000))[0, 1]
                    for delay in np.arange(0, 20, 0.5)]
    assert max(correlations) > 0.99  # the same tone, only delayed by the filter


def test_both_directions_are_mixed(tmp_path, cipher):
    """What the caller said and what the engine played are both in the recording."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, tone(1000, 1.0, 6000), played=tone(1700, 1.0, 6000))
    freqs, magnitudes = spectrum(wav_samples(to_wav(path, cipher))[1])
    assert abs(level_db(freqs, magnitudes, 1700)) < 2.0
    assert level_db(freqs, magnitudes, 1500) < -30  # and nothing between them


def test_played_audio_alone_is_recorded(tmp_path, cipher):
    """Silence from the caller with a prompt playing still records the prompt."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, np.zeros(8000, dtype=np.int16), played=tone(1000, 0.5))
    freqs, magnitudes = spectrum(wav_samples(to_wav(path, cipher))[1])
    assert freqs[magnitudes.argmax()] == pytest.approx(1000, abs=10)


@pytest.mark.parametrize(("hz", "heard_at", "at_least_db"), [
    (3900, 3900, 20),  # inside the 8 kHz band, above the 3.6 kHz cut-off
    (5300, 2700, 30),  # above the 8 kHz Nyquist limit: would fold back to 2.7 kHz without the filter
    (6100, 1900, 30),
])
def test_high_frequencies_are_filtered_before_downsampling(tmp_path, cipher, hz, heard_at, at_least_db):
    """A tone above 3.6 kHz mixed in at the same level as 1 kHz comes out far weaker, and tones beyond
    4 kHz do not alias into the speech band."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, tone(1000, 1.0), played=tone(hz, 1.0))
    freqs, magnitudes = spectrum(wav_samples(to_wav(path, cipher))[1])
    assert freqs[magnitudes.argmax()] == pytest.approx(1000, abs=10)
    assert level_db(freqs, magnitudes, heard_at) < -at_least_db


def test_loud_mix_is_clipped_not_wrapped(tmp_path, cipher):
    """Two full-scale signals added together saturate instead of wrapping round to the opposite sign."""
    path = tmp_path / "call.ulaw.enc"
    loud = np.full(3200, 30000, dtype=np.int16)
    record(path, cipher, loud, played=loud)
    samples = wav_samples(to_wav(path, cipher))[1]
    assert samples[200:].min() > 25000


def test_file_on_disk_is_encrypted(tmp_path, cipher):
    """The μ-law bytes of the recording are not in the file; only the cipher gives them back."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, tone(1000, 1.0))
    plain = read_file(path, cipher)
    assert len(plain) == 8000
    raw = path.read_bytes()
    assert raw.startswith(b"MDGF")
    assert all(plain[i:i + 16] not in raw for i in range(0, len(plain) - 16, 500))
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_abandoned_recording_leaves_no_file(tmp_path, cipher):
    """abandon() discards everything: no recording and no temporary file remain."""
    folder = tmp_path / "recordings"
    recorder = CallRecorder(folder / "call.ulaw.enc", cipher)
    for frame in frames(tone(1000, 0.5)):
        recorder.add(frame, None)
    assert list(folder.iterdir())  # the temporary file while recording
    recorder.abandon()
    assert list(folder.iterdir()) == []


def test_recording_appears_only_when_closed(tmp_path, cipher):
    """While the call lasts the final name does not exist (a crash leaves no half file under it)."""
    path = tmp_path / "call.ulaw.enc"
    recorder = CallRecorder(path, cipher)
    recorder.add(tone(1000, 0.02).tobytes(), None)
    assert not path.exists()
    recorder.close()
    assert path.exists()


@pytest.mark.parametrize("seconds", [1.0, 9.0])  # one chunk, and two (64 KiB chunks)
def test_truncated_recording_is_refused(tmp_path, cipher, seconds):
    """A recording cut short, mid-chunk or by a whole chunk, is refused rather than exported short."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, tone(1000, seconds))
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    with pytest.raises(DecryptionError):
        to_wav(path, cipher)
    if len(raw) > 18 + 65536 + 16:
        path.write_bytes(raw[:18 + 65536 + 16])  # header and the first chunk only
        with pytest.raises(DecryptionError):
            to_wav(path, cipher)


def test_recording_from_another_key_is_refused(tmp_path, cipher):
    """A recording is readable only with the key folder that wrote it."""
    path = tmp_path / "call.ulaw.enc"
    record(path, cipher, tone(1000, 0.2))
    create_keys(tmp_path / "other")
    with pytest.raises(DecryptionError):
        to_wav(path, FieldCipher(load_keyring(tmp_path / "other")))


def test_transcript_round_trip_in_japanese(tmp_path, cipher):
    """save_transcript/load_transcript give back the same items, Japanese included, and the text is
    not readable in the file."""
    path = tmp_path / "call.heard.enc"
    items = [{"at": 1.5, "kind": "speech", "text": "日にちを変更したいです", "confidence": 0.82},
             {"at": 9.0, "kind": "digits", "text": "1234"},
             {"at": 12.0, "kind": "speech", "text": "はい、そうです\n改行も"}]
    save_transcript(path, items, cipher)
    assert load_transcript(path, cipher) == items
    raw = path.read_bytes()
    assert "日にち".encode() not in raw and b"1234" not in raw


def test_empty_transcript_round_trip(tmp_path, cipher):
    """A call in which nothing was said or pressed has an empty transcript, not an error."""
    path = tmp_path / "call.heard.enc"
    save_transcript(path, [], cipher)
    assert load_transcript(path, cipher) == []
