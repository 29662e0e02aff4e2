"""Uploaded announcement audio (db/ivr_audio.py): WAV at any rate and channels, or a compressed file,
becomes 16 kHz mono 16-bit; a text file, an empty file, a file with no audio stream or too much
audio is refused in Japanese and nothing is written; the worker plays a kept file whole and says the
node's text when the file is gone."""

from __future__ import annotations

import io
import queue
import types
import wave

import numpy as np
import pytest

from db import ivr_audio


@pytest.fixture(autouse=True)
def _no_audio_yet(no_audio_yet):
    pass


def tone_wav(rate: int, channels: int, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    frames = np.repeat(samples[:, None], channels, axis=1).tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def encoded(codec: str, container: str, seconds: float = 1.0) -> bytes:
    import av
    out = io.BytesIO()
    with av.open(out, "w", format=container) as box:
        stream = box.add_stream(codec, rate=44100)
        t = np.arange(int(44100 * seconds)) / 44100
        samples = (np.sin(2 * np.pi * 440 * t) * 0.3).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.rate = 44100
        for packet in stream.encode(frame):
            box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return out.getvalue()


def test_a_stereo_44k_wav_becomes_the_phone_format(instance):
    name = ivr_audio.save("greeting", tone_wav(44100, 2, 2.0))
    assert name == "greeting.wav" and ivr_audio.names() == ["greeting.wav"]
    pcm = np.frombuffer(ivr_audio.load(name), np.int16)
    assert abs(len(pcm) - 32000) < 400 and 5000 < np.abs(pcm).max() < 9000


@pytest.mark.parametrize(("codec", "container"), [("flac", "flac"), ("libmp3lame", "mp3"), ("aac", "adts")])
def test_compressed_audio_is_read(instance, codec, container):
    pcm = ivr_audio.convert(encoded(codec, container))
    assert abs(len(pcm) / 2 - 16000) < 2000


@pytest.mark.parametrize(("data", "message"), [
    (b"", "選んでください"),
    ("お知らせの原稿です。".encode() * 50, "音声として読めません"),
    (tone_wav(16000, 1, 0.01), "音声として読めません"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 40, "音声として読めません"),
])
def test_what_is_no_audio_is_refused_and_nothing_is_kept(instance, data, message):
    with pytest.raises(ivr_audio.AudioError, match=message):
        ivr_audio.save("broken", data)
    assert "broken.wav" not in ivr_audio.names()


def test_a_bad_name_is_refused(instance):
    with pytest.raises(ivr_audio.AudioError, match="英数字"):
        ivr_audio.save("../etc/passwd", tone_wav(16000, 1, 1.0))


def test_the_worker_plays_the_file_whole_or_says_the_text_when_it_is_gone(instance, tmp_path):
    from voice.sip.helpers import Helpers
    from voice.tts import PromptCache, Voice
    ivr_audio.save("hold", tone_wav(8000, 1, 1.0))
    helper = types.SimpleNamespace(prompts=PromptCache(tmp_path), results=queue.SimpleQueue())
    Helpers._synthesize(helper, 1, "test", 3, "お待ちください。", Voice(), "hold.wav")
    serial, kind, prompt_id, pcm, final = helper.results.get_nowait()
    assert (prompt_id, final, len(pcm)) == (3, True, 32000)
    Helpers._synthesize(helper, 1, "test", 4, "お待ちください。", Voice(), "gone.wav")
    *_, pcm, final = helper.results.get_nowait()
    assert final and len(pcm) > 16000  # the text, synthesised
