"""The shared recognition service over its Unix socket, with a stand-in engine: results come back with
the engine's other hypotheses, failures and garbage are answered with errors without taking the
service down, and asr_parallel bounds how many utterances the engine sees at once."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import numpy as np
import pytest

from voice.asr import Transcript
from voice.recognition import (
    MAX_HEADER_BYTES,
    MAX_PCM_BYTES,
    RecognitionClient,
    RecognitionFailed,
    RecognitionServer,
)


class CountingEngine:
    """Says how many samples it got; a first sample of 1 makes it fail; records how many requests are
    inside transcribe() at once; an optional text and delay, or a wait (up to 5 s) until two requests
    are inside together."""

    def __init__(self, text=None, delay_s=0.0, wait_for_company=False, alternatives=(), scores=None):
        self.text, self.delay_s, self.wait_for_company = text, delay_s, wait_for_company
        self.alternatives = alternatives
        self.scores = scores  # None: one score per expected answer, its length
        self.expected: tuple[str, ...] = ()
        self.together = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.calls = 0

    def transcribe(self, samples: np.ndarray, expected=()) -> Transcript:
        with self.lock:
            self.inside += 1
            self.calls += 1
            self.most_inside = max(self.most_inside, self.inside)
            if self.inside >= 2:
                self.together.set()
        try:
            if self.wait_for_company:
                self.together.wait(5)
            if self.delay_s:
                time.sleep(self.delay_s)
            if len(samples) and samples[0] == 1:
                raise RuntimeError("model exploded")
            text = self.text if self.text is not None else f"{len(samples)}サンプル"
            self.expected = tuple(expected)
            scores = self.scores if self.scores is not None else tuple(float(len(e)) for e in expected)
            return Transcript(text, 0.75, self.alternatives, seconds=0.125, scores=scores)
        finally:
            with self.lock:
                self.inside -= 1


@pytest.fixture
def serve(tmp_path):
    """serve(engine, parallel=1) -> (client, socket path): a running server, shut down after the test."""
    servers = []

    def start(engine, parallel=1):
        path = tmp_path / "asr.sock"
        server = RecognitionServer(path, engine, parallel=parallel)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return RecognitionClient(path, timeout_s=10), path

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def pcm(samples: int, first: int = 0) -> bytes:
    data = np.zeros(samples, dtype=np.int16)
    if samples:
        data[0] = first
    return data.tobytes()


def raw_exchange(path, data: bytes, *, close_write=True) -> dict | None:
    """Send raw bytes; returns the decoded reply, or None when the server closed without one."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        head = sock.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            return None
        (size,) = struct.unpack(">I", head)
        return json.loads(sock.recv(size, socket.MSG_WAITALL))


def block(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_round_trip_text_confidence_and_seconds(serve):
    """The engine's transcript crosses the socket intact (text, confidence, seconds)."""
    client, path = serve(CountingEngine())
    transcript = client.transcribe(pcm(16000))
    assert transcript.text == "16000サンプル"
    assert transcript.confidence == 0.75 and transcript.seconds == 0.125
    assert transcript.alternatives == ()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_engines_other_hypotheses_come_along(serve):
    """The engine's n-best hypotheses reach the worker as alternatives, in their order."""
    client, _ = serve(CountingEngine(text="日々を変更したい", alternatives=("日にちを変更したい", "ひびを変更")))
    transcript = client.transcribe(pcm(8000))
    assert transcript.text == "日々を変更したい"
    assert transcript.alternatives == ("日にちを変更したい", "ひびを変更")
    assert transcript.hypotheses == ("日々を変更したい", "日にちを変更したい", "ひびを変更")


def test_expected_answers_go_to_the_engine_and_their_scores_come_back(serve):
    """A question's expected answers reach the engine in order; one score each comes back, in that order;
    without expected answers nothing is scored."""
    engine = CountingEngine(text="ほんちょうしゃ")
    client, _ = serve(engine)
    transcript = client.transcribe(pcm(800), ("本庁舎", "北支所", "どこでも"))
    assert engine.expected == ("本庁舎", "北支所", "どこでも")
    assert transcript.scores == (3.0, 3.0, 4.0)
    assert client.transcribe(pcm(800)).scores == () and engine.expected == ()


def test_scores_that_do_not_match_the_expected_answers_are_a_failure(serve):
    """An engine that returns more or fewer scores than answers asked: the worker cannot tell which is
    which, so it is told recognition failed (it goes on by keys) rather than given wrong scores."""
    client, _ = serve(CountingEngine(scores=(1.0,)))
    with pytest.raises(RecognitionFailed, match="1 scores for 2 expected"):
        client.transcribe(pcm(800), ("はい", "いいえ"))


@pytest.mark.parametrize("expected", [
    "はい", [1, 2], [""], ["  "], ["あ" * 41], ["はい"] * 65, {"はい": 1},
])
def test_bad_expected_answers_are_refused_before_the_engine(serve, expected):
    """Expected answers that are not a list of 1-40 character texts (at most 64) are a bad request."""
    engine = CountingEngine()
    client, path = serve(engine)
    reply = raw_exchange(path, block(json.dumps({"expected": expected}).encode()) + block(pcm(320)))
    assert reply["error"].startswith("bad request: ") and "expected" in reply["error"]
    assert engine.calls == 0
    assert client.transcribe(pcm(320), ("はい",)).scores == (2.0,)


def test_engine_failure_is_reported_and_the_service_keeps_serving(serve):
    """An exception in the engine becomes RecognitionFailed naming it; the next request succeeds."""
    engine = CountingEngine()
    client, _ = serve(engine)
    with pytest.raises(RecognitionFailed, match="recognition failed: RuntimeError"):
        client.transcribe(pcm(4000, first=1))
    assert client.transcribe(pcm(4000)).text == "4000サンプル"
    assert engine.calls == 2 and engine.inside == 0


def test_engine_failure_frees_its_slot(serve):
    """A failed recognition gives its parallel slot back: with parallel=1, later requests still run."""
    client, _ = serve(CountingEngine(), parallel=1)
    for _ in range(3):
        with pytest.raises(RecognitionFailed):
            client.transcribe(pcm(100, first=1))
    assert client.transcribe(pcm(100)).text == "100サンプル"


@pytest.mark.parametrize("garbage", [
    block(b"this is not json") + block(b""),
    block(b"{\"expected\": [") + block(b""),
    b"\x00\x00",  # not even a length
    block(b"{}"),  # header without any audio
    block(b"{}") + struct.pack(">I", 10) + b"\x00" * 3,  # audio cut short
    block(b"{}") + block(b"\x00" * 3),  # odd number of bytes: not 16-bit samples
])
def test_garbage_request_is_answered_with_an_error_and_the_service_survives(serve, garbage):
    """Malformed requests get a 'bad request' error reply (never reach the engine), and the service
    answers the next well-formed request."""
    engine = CountingEngine()
    client, path = serve(engine)
    reply = raw_exchange(path, garbage)
    assert reply is not None and reply["error"].startswith("bad request")
    assert engine.calls == 0
    assert client.transcribe(pcm(320)).text == "320サンプル"


@pytest.mark.parametrize("header", [b"[1, 2]", b"\"text\"", b"12"])
def test_well_formed_json_of_the_wrong_shape_gets_an_error_reply(serve, header):
    """A header that is JSON but not an object is garbage too: the client must get an error reply,
    not a dropped connection, and the service survives."""
    client, path = serve(CountingEngine(text="はい"))
    reply = raw_exchange(path, block(header) + block(pcm(320)))
    assert reply is not None and "error" in reply
    assert client.transcribe(pcm(320)).text == "はい"


def test_oversized_length_header_is_refused(serve):
    """A header length over the limit is refused before anything that large is read."""
    engine = CountingEngine()
    client, path = serve(engine)
    reply = raw_exchange(path, struct.pack(">I", MAX_HEADER_BYTES + 1), close_write=False)
    assert "over the limit" in reply["error"]
    reply = raw_exchange(path, b"GET / HTTP/1.0\r\n\r\n", close_write=False)  # 'GET ' read as a length
    assert "over the limit" in reply["error"]
    assert engine.calls == 0
    assert client.transcribe(pcm(2)).text == "2サンプル"


def test_oversized_audio_is_refused(serve):
    """More audio than an utterance may last (30 s) is refused without being read or recognised."""
    engine = CountingEngine()
    client, path = serve(engine)
    reply = raw_exchange(path, block(b"{}") + struct.pack(">I", MAX_PCM_BYTES + 2), close_write=False)
    assert "over the limit" in reply["error"]
    with pytest.raises(RecognitionFailed):  # and the client says so, whatever it sent
        client.transcribe(pcm(MAX_PCM_BYTES // 2 + 1))
    assert engine.calls == 0


def test_client_without_a_service_raises_recognition_failed(tmp_path):
    """No socket (the service is not running) is RecognitionFailed, not a bare OSError."""
    with pytest.raises(RecognitionFailed, match="unavailable"):
        RecognitionClient(tmp_path / "missing.sock", timeout_s=1).transcribe(pcm(100))


def test_client_gives_up_on_a_silent_service(tmp_path):
    """A service that accepts but never answers makes the client fail after its timeout."""
    path = tmp_path / "asr.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        started = time.monotonic()
        with pytest.raises(RecognitionFailed):
            RecognitionClient(path, timeout_s=0.3).transcribe(pcm(100))
    assert time.monotonic() - started < 3


def run_concurrently(client, requests):
    results, threads = [None] * requests, []
    for i in range(requests):
        def call(i=i):
            results[i] = client.transcribe(pcm(100 + i)).text
        threads.append(threading.Thread(target=call))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_parallel_one_serialises_the_engine(serve):
    """With asr_parallel = 1 two requests sent at the same time are both answered, one after the other:
    the engine never has two inside it."""
    engine = CountingEngine(delay_s=0.2)
    client, _ = serve(engine, parallel=1)
    assert sorted(run_concurrently(client, 2)) == ["100サンプル", "101サンプル"]
    assert engine.calls == 2 and engine.most_inside == 1


def test_parallel_two_lets_two_in(serve):
    """With asr_parallel = 2 the same two requests do overlap inside the engine (the limit is the
    setting, not an accident of the server)."""
    engine = CountingEngine(wait_for_company=True)
    client, _ = serve(engine, parallel=2)
    assert sorted(run_concurrently(client, 2)) == ["100サンプル", "101サンプル"]
    assert engine.most_inside == 2


def test_server_replaces_a_stale_socket_file(tmp_path, serve):
    """A socket file left by a crashed service does not stop a new one from starting."""
    (tmp_path / "asr.sock").write_bytes(b"")
    client, _ = serve(CountingEngine(text="こんにちは"))
    assert client.transcribe(pcm(10)).text == "こんにちは"
