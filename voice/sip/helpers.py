"""The worker's helper threads: speech synthesis (one thread: the synthesisers are not re-entrant),
recognition (one per call place: each waits on the shared recognition service) and requests (two:
each holds a database transaction). A fixed set, registered with pjlib, so a worker's thread count
never changes; every result comes back through `results` to the polling thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
import wave

from db import ivr_audio
from voice import services
from voice.asr import Transcript
from voice.recognition import RecognitionClient, RecognitionFailed
from voice.tts import PromptCache, Voice, sentence_pause, split_sentences

log = logging.getLogger(__name__)


class HelperThreads:
    """A fixed number of threads taking jobs from a queue (a worker's thread count never changes)."""

    def __init__(self, name: str, count: int, register, setup=None):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.setup = setup  # run by each thread before its first job
        self.threads = [threading.Thread(target=self._run, args=(register,), name=f"{name}-{i}", daemon=True)
                        for i in range(count)]
        for thread in self.threads:
            thread.start()

    def submit(self, job, *args) -> None:
        self.jobs.put((job, args))

    def close(self, timeout_s: float = 5.0) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(timeout_s)

    def _run(self, register) -> None:
        register(threading.current_thread().name)
        if self.setup is not None:
            try:
                self.setup()
            except Exception:
                log.exception("helper thread %s: setup failed", threading.current_thread().name)
        while (item := self.jobs.get()) is not None:
            job, args = item
            try:
                job(*args)
            except Exception:
                log.exception("helper job %s failed", job.__name__)


class Helpers:
    def __init__(self, register, prompts: PromptCache, asr: RecognitionClient, calls: int):
        self.prompts, self.asr = prompts, asr
        self.results: queue.SimpleQueue = queue.SimpleQueue()  # (serial, kind, ...) for the polling thread
        self.pools = (HelperThreads("tts", 1, register), HelperThreads("asr", calls, register),
                      HelperThreads("svc", 2, register, setup=services.connect))

    def synthesize(self, serial: int, name: str, prompt_id: int, text: str, voice: Voice, audio: str = "") -> None:
        self.pools[0].submit(self._synthesize, serial, name, prompt_id, text, voice, audio)

    def recognize(self, serial: int, name: str, request_id: int, pcm: bytes, expected: tuple[str, ...]) -> None:
        self.pools[1].submit(self._recognize, serial, name, request_id, pcm, expected)

    def perform(self, serial: int, call_id: str, request) -> None:
        self.pools[2].submit(self._perform, serial, call_id, request)

    def close(self) -> None:
        for pool in self.pools:
            pool.close()

    def _synthesize(self, serial: int, name: str, prompt_id: int, text: str, voice: Voice, audio: str = "") -> None:
        """Sentence by sentence: the caller hears the first while the rest is made (and a fixed sentence
        after a variable one comes from the cache). Each piece is trimmed of the synthesiser's silence and
        all but the last carry the pause to the next (voice.tts.SENTENCE_GAP_S in all). An uploaded
        audio file is played whole instead; one that cannot be read is logged and its text said."""
        if audio:
            try:
                self.results.put((serial, "prompt", prompt_id, ivr_audio.load(audio), True))
                return
            except (OSError, EOFError, wave.Error) as exc:
                log.error("call %s: audio file %s cannot be played (%s): its text is said instead", name, audio, exc)
        sentences = split_sentences(text)
        for number, sentence in enumerate(sentences, 1):
            final = number == len(sentences)
            try:
                started = time.perf_counter()
                pcm = self.prompts.get(sentence, voice).tobytes()
                log.debug("call %s: prompt %d piece %d ready in %.2f s", name, prompt_id, number,
                          time.perf_counter() - started)
            except Exception:
                log.exception("call %s: synthesis failed", name)
                pcm, final = b"", True
            if not final:
                pcm += sentence_pause().tobytes()
            self.results.put((serial, "prompt", prompt_id, pcm, final))
            if final:
                return

    def _recognize(self, serial: int, name: str, request_id: int, pcm: bytes, expected: tuple[str, ...]) -> None:
        try:
            transcript = self.asr.transcribe(pcm, expected)
        except RecognitionFailed as exc:
            log.warning("call %s: %s", name, exc)
            transcript = Transcript("", 0.0, failed=True)
        self.results.put((serial, "transcript", request_id, transcript))

    def _perform(self, serial: int, call_id: str, request) -> None:
        self.results.put((serial, "reply", request.request_id, services.perform(request, call_id)))
