"""One voice worker process = one pjsua2 endpoint with 4 call places (the wheel's compile-time
PJSUA_MAX_CALLS), behind Kamailio: a call that may be put through keeps a second place for the transfer's
leg (voice/call/transfer.py admits), so a worker answers 2 such calls, or up to 4 that never transfer. pjsua2 runs with threadCnt=0: this module's one thread polls
libHandleEvents() and does everything else between polls: SIP callbacks only note what happened,
the media callbacks (pjmedia's clock thread) only copy 20 ms frames into deques. What a call does is
decided without pjsua2: its flow (voice/flows, chosen by voice/flows/router.py), its sans-io
CallSession (voice/call/session.py), its transfer and media timeout (voice/call); synthesis,
recognition and requests run on helper threads (voice/sip/helpers.py) and come back through a queue.

Object lifetimes follow docs/voice-stack.md: one AudioMediaPort per call slot, created at start and
reused (destroying one while the bridge runs can crash); Call objects referenced until DISCONNECTED
and dropped on this thread; everything released and garbage-collected before libDestroy().
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import queue
import time

import pjsua2 as pj

from appliance.clock import TOKYO
from voice import calllog, prompts
from voice.call import session, transfer
from voice.call.media import MediaWatch
from voice.call.session import CallSession
from voice.call.sipinfo import caller_number, dialled_number
from voice.dispatcher import Plan, loopback_uri, trunk_password
from voice.flows.base import FlowContext, Line
from voice.flows.router import Refusal, route
from voice.recognition import RecognitionClient
from voice.sip import ports
from voice.sip.accounts import (
    PhoneCall,
    PjLog,
    TrunkAccount,
    TrunkRegistration,
    account_config,
    endpoint_config,
    outbound_config,
    registration_config,
)
from voice.sip.calls import ActiveCall, Slot
from voice.sip.helpers import Helpers
from voice.sip.ports import FRAME_BYTES, FramePort
from voice.sip.transfers import MAX_CALLS, TransferLegs
from voice.tts import PromptCache, Voice, kokoro, split_sentences, synthesize
from voice.vad import SileroVad

log = logging.getLogger(__name__)

CODEC_PRIORITIES = {"PCMU/8000/1": 255, "PCMA/8000/1": 254, "G722/16000/1": 253}


class VoiceWorker(TransferLegs):
    def __init__(self, settings, index: int, overflow: bool = False):
        self.settings = settings
        self.index = index
        self.overflow = overflow  # the worker of last resort: only says that every line is busy
        self.port = settings.voice_worker_base_port + index
        self.notes: list[tuple] = []  # from pjsua2 callbacks, handled after each poll
        self.calls: dict[int, ActiveCall] = {}
        self._by_pj: dict[int, ActiveCall] = {}  # id(PhoneCall) → call
        self._serial = 0
        self.prompts = PromptCache(settings.data_dir / "prompts")
        self.log_writer = calllog.CallLogWriter()
        self.next_gc = 0.0
        self.running = True

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        ports.use_fastest_vector_copy()
        gc.disable()  # cycles are collected on this thread only (step), never mid-callback elsewhere
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        self._pj_log = PjLog()
        self.ep.libInit(endpoint_config(self._pj_log, MAX_CALLS))
        # a fixed set of helper threads, registered with pjlib (a pjsua2 object freed on one must not abort)
        self.helpers = Helpers(self.ep.libRegisterThread, self.prompts,
                               RecognitionClient(self.settings.run_dir / "asr.sock"), MAX_CALLS)
        transport = pj.TransportConfig()
        transport.boundAddress = "127.0.0.1"
        transport.port = self.port
        self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, CODEC_PRIORITIES.get(codec.codecId, 0))
        self.account = TrunkAccount(self)
        self.account.create(self._account_config(), True)
        proxy = loopback_uri(self.settings, Plan.from_settings(self.settings))
        password = trunk_password(self.settings) if self.settings.sip_trunk_mode == "register" else ""
        self.outbound = TrunkAccount(self)
        self.outbound.create(outbound_config(self._account_config(), self.settings, proxy, password))
        self.registration = None
        if self.overflow and self.settings.sip_trunk_mode == "register":  # one registration per appliance
            self.registration = TrunkRegistration(self)
            self.registration.create(registration_config(self._account_config(), self.settings, proxy, password))
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, 16000, 1, 20000, 16)
        self.slots = []
        for number in range(MAX_CALLS):
            port = FramePort()
            port.createPort(f"slot{number}", fmt)
            self.slots.append(Slot(port, SileroVad()))
        self.log_writer.submit(calllog.close_stale, self.index, calllog.now())
        # load the synthesiser (dictionary files, its threads) now, not during the first call, and
        # have the announcements every call may need ready in the prompt cache
        synthesize("はい", Voice())
        kokoro.use_models_dir(self.settings.models_dir)
        if calllog.lines_use_engine("kokoro"):  # load it now, not on a caller's first dynamic prompt
            try:
                synthesize("はい", Voice(engine="kokoro"))
            except kokoro.ModelProblem as exc:
                log.error("a phone line speaks with Kokoro, which cannot be loaded: %s", exc)
        for text in (self.settings.recording_announcement, self.settings.voice_busy_announcement):
            for sentence in split_sentences(text) if text.strip() else ():
                self.prompts.get(sentence, Voice())
        self.ready_file.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.touch()
        log.info("voice worker %d ready on 127.0.0.1:%d (%d calls)", self.index, self.port, MAX_CALLS)

    @property
    def ready_file(self):
        return self.settings.run_dir / f"worker-{self.index}.ready"

    def _account_config(self) -> pj.AccountConfig:
        return account_config(self.settings, self.index, self.port)

    def run(self) -> None:
        self.start()
        try:
            while self.running:
                # SIP and RTP wake the poll at once; the wait only bounds how late queued audio and helper
                # results are handled, which matters only while there are calls (an idle worker sleeps)
                self.ep.libHandleEvents(10 if self.calls else 100)
                self.step(time.monotonic())
            self.shutdown()
        finally:
            self.destroy()

    def stop(self) -> None:
        self.running = False

    def shutdown(self, grace_s: float = 3.0) -> None:
        """Hang up every call (politely, with BYE) and wait briefly for them to end."""
        for active in list(self.calls.values()):
            self._hangup(active, "engine_shutdown")
        deadline = time.monotonic() + grace_s
        while self.calls and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
            self.step(time.monotonic())

    def destroy(self) -> None:
        self.ready_file.unlink(missing_ok=True)
        for port in [slot.port for slot in getattr(self, "slots", [])]:
            port.reset()
        port = None  # no local may keep a port alive past libDestroy()
        if getattr(self, "helpers", None) is not None:
            self.helpers.close()
        self.log_writer.close()
        if getattr(self, "ep", None) is not None:
            self.ep.hangupAllCalls()
            for _ in range(20):
                self.ep.libHandleEvents(10)
            self.calls.clear()
            self._by_pj.clear()
            self.notes.clear()
            self.ep.audDevManager().setNoDev()  # stop the bridge's clock before its ports go
            for _ in range(10):
                self.ep.libHandleEvents(10)
            self.slots = []
            self.account = self.outbound = self.registration = None
            gc.collect()
            self.ep.libDestroy()
            self.ep = None

    # --- the loop -----------------------------------------------------------------------------------

    def step(self, now: float) -> None:
        notes, self.notes = self.notes, []
        for note in notes:
            self._note(note, now)
        while True:
            try:
                serial, kind, *values = self.helpers.results.get_nowait()
            except queue.Empty:
                break
            active = self.calls.get(serial)
            if active is None or active.session is None:
                continue
            if kind == "prompt":
                prompt_id, pcm, final = values
                self._effects(active, active.session.prompt_ready(prompt_id, pcm, now, final))
            elif kind == "reply":
                request_id, result = values
                self._effects(active, active.session.replied(request_id, result, now))
            else:
                request_id, transcript = values
                active.heard.append({"at": round(now - active.answered_at, 2), "text": transcript.text,
                                     "confidence": transcript.confidence,
                                     "alternatives": list(transcript.alternatives)})
                self._effects(active, active.session.recognized(request_id, transcript, now))
        for active in list(self.calls.values()):
            if active.slot is not None and active.session is not None:
                self._media(active, now)
                self._effects(active, active.session.tick(now))
            if active.transfer is not None:
                self._transfer_actions(active, active.transfer.tick(now), now)
            if active.session is not None and active.answered and not active.hangup_reason:
                progress = active.progress()
                if progress != active.live:  # a key, a step or a transfer: shown at once in the live view
                    active.live = progress
                    self.log_writer.submit(calllog.call_progress, active.sip_call_id, *progress)
        if now >= self.next_gc:
            gc.collect()
            self.next_gc = now + 5.0

    def _media(self, active: ActiveCall, now: float) -> None:
        port, vad = active.slot.port, active.slot.vad
        while port.heard:
            heard = port.heard.popleft()
            played = port.played.popleft() if port.played else b""
            if not heard:
                heard = bytes(FRAME_BYTES)
            if active.recorder is not None:
                active.recorder.add(heard, played)
            if active.speech:
                self._effects(active, active.session.audio(heard, vad.is_speech(heard), now))
        if active.media_connected and active.answered and active.media.due(now):  # trunks may send nothing on early media
            try:
                packets = active.call.getStreamStat(0).rtcp.rxStat.pkt
            except pj.Error:
                return
            if active.media.timed_out(packets, active.on_hold, now):
                log.info("call %s: no audio from the caller for %d s", active.name, self.settings.media_timeout_s)
                self._hangup(active, "media_timeout")

    # --- SIP events ---------------------------------------------------------------------------------

    def incoming(self, call: PhoneCall, invite: str) -> None:
        """A new INVITE (inside libHandleEvents): decide at once, so Kamailio can try another worker."""
        self._serial += 1
        info = call.getInfo()
        active = ActiveCall(self._serial, call, None, info.callIdString, MediaWatch(self.settings.media_timeout_s))
        self.calls[active.serial] = active
        self._by_pj[id(call)] = active
        registered = self.settings.sip_username if self.settings.sip_trunk_mode == "register" else ""
        did, caller = dialled_number(invite, registered), caller_number(info.remoteUri)
        slot = next((s for s in self.slots if s.call is None), None)
        if slot is None:
            log.info("call %s refused: all %d slots busy", active.name, MAX_CALLS)
            return self._answer(call, 486)
        try:
            line = None if self.overflow else calllog.line_for(did)
            program = calllog.program_for(line) if line is not None else None
        except Exception:
            log.exception("call %s refused: the phone line lookup failed", active.name)
            return self._answer(call, 503)
        started_at = calllog.now().astimezone(TOKYO)
        context = FlowContext(active.sip_call_id, line or Line(did, ""), caller, started_at, self.settings,
                              prompts.for_call(), program)
        chosen = route(line, context, overflow=self.overflow)
        if isinstance(chosen, Refusal):
            (log.info if chosen.status == 404 else log.error)("call %s refused: %s", active.name, chosen.reason)
            return self._answer(call, chosen.status)
        keeps_leg_place = chosen.flow.can_transfer and self.settings.transfer_mode == "bridged"
        legs_promised = sum(1 for other in self.calls.values() if other.keeps_leg_place and other.leg is None)
        if not transfer.admits(MAX_CALLS, len(self._by_pj) - 1, legs_promised, keeps_leg_place):
            log.info("call %s refused: no call place left for the transfers of this worker's calls", active.name)
            return self._answer(call, 486)
        active.keeps_leg_place = keeps_leg_place
        active.record = self.settings.record_calls and chosen.record
        active.speech = line is None or line.mode != "dtmf_only"  # key-press only: no VAD, no recognition
        slot.call, active.slot, active.voice = active, slot, chosen.voice
        slot.port.reset()
        slot.vad.reset()
        active.session = CallSession(chosen.flow, call_id=active.sip_call_id, dialled=did, caller=caller,
                                     started_at=started_at,
                                     announcement=self.settings.recording_announcement if active.record else "",
                                     ring_s=self.settings.voice_ring_ms / 1000,
                                     transfer_failed_announcement=self.settings.transfer_failed_announcement,
                                     speech=active.speech, early_media=self.settings.sip_early_media)
        log.info("call %s: incoming on line %s (worker %d, slot %d)", active.name, did, self.index,
                 self.slots.index(slot))
        self.log_writer.submit(calllog.call_started, active.sip_call_id, did, caller, self.index, started_at,
                               kind=chosen.flow.kind, flow_version=program.version if program else None)
        if self.settings.voice_ring_ms > 0:
            # ringing first; without a ring the answer follows at once, and a 180 sent just before it
            # can overtake it through the dispatcher's parallel receivers (a strict caller then aborts)
            self._answer(call, 180)
        self._effects(active, active.session.start(time.monotonic()))

    def _answer(self, call: PhoneCall, code: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        try:
            call.answer(prm)
        except pj.Error as exc:
            log.warning("answering %d failed: %s", code, exc.info())

    def _note(self, note: tuple, now: float) -> None:
        kind, call, *values = note
        active = self._by_pj.get(id(call))
        if active is None:
            return
        if call is active.leg:
            return self._leg_note(active, kind, values, now)
        if kind == "xfer":
            if active.transfer is not None:
                self._transfer_actions(active, active.transfer.refer_reported(*values), now)
            return
        if kind == "digit":
            if active.session is not None:
                active.heard.append({"at": round(now - active.answered_at, 2), "key": values[0]})
                self._effects(active, active.session.digit(values[0], now))
            return
        if kind == "media":
            try:
                self._media_changed(active, call, call.getInfo())
            except pj.Error as exc:
                log.warning("call %s: media change not handled: %s", active.name, exc.info())
        elif values[0] == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._ended(active, values[1], now)

    def _media_changed(self, active: ActiveCall, call: PhoneCall, info) -> None:
        media = info.media  # keep the CallInfo alive while its media list is read
        for index in range(len(media)):
            entry = media[index]
            if entry.type != pj.PJMEDIA_TYPE_AUDIO or active.slot is None:
                continue
            active.on_hold = entry.status in (pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)
            if entry.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                stream = call.getAudioMedia(index)
                stream.startTransmit(active.slot.port)
                active.slot.port.startTransmit(stream)
                active.slot.port.active = True
                active.media_connected = True

    def _ended(self, active: ActiveCall, last_status: int, now: float) -> None:
        if active.hangup_reason:
            reason = active.hangup_reason
        elif not active.answered:
            reason = "caller_cancel" if last_status == 487 else f"not_answered_{last_status}"
        else:
            reason = "caller_hangup"
        if active.session is not None:
            active.session.ended(reason, now)
        recording, seconds, transcript = active.finish_recording(self.settings.recordings_dir)
        if active.transfer is not None:  # the caller is gone: so is the call to the transfer target
            self._transfer_actions(active, active.transfer.caller_ended(), now)
        if active.slot is not None:
            active.slot.port.reset()
            active.slot.call = None
        if active.session is not None:
            flow_log = active.session.flow.log
            self.log_writer.submit(calllog.call_ended, active.sip_call_id, calllog.now(), outcome=flow_log.outcome,
                                   end_reason=reason, path=list(flow_log.path), turns=list(flow_log.turns), recording=recording,
                                   recording_seconds=seconds, transcript=transcript, kind=active.session.flow.kind)
            log.info("call %s ended: %s", active.name, reason)
        del self.calls[active.serial]
        del self._by_pj[id(active.call)]  # a leg still hanging up stays mapped until it is gone

    # --- effects ------------------------------------------------------------------------------------

    def _effects(self, active: ActiveCall, effects) -> None:
        for effect in effects:
            match effect:
                case session.AnswerCall():
                    self._answer(active.call, 200)
                    active.answered = True
                    active.answered_at = time.monotonic()
                    active.media.started(active.answered_at)
                    self.log_writer.submit(calllog.call_answered, active.sip_call_id, calllog.now())
                    if active.record:
                        active.start_recording(self.settings.recordings_dir, calllog.now())
                case session.EarlyMedia():
                    self._answer(active.call, 183)
                    active.early = True
                    log.info("call %s: early media (183): announcements before the answer", active.name)
                case session.Synthesize(prompt_id=prompt_id, text=text, audio=audio):
                    self.helpers.synthesize(active.serial, active.name, prompt_id, text, active.voice, audio)
                case session.Play(prompt_id=prompt_id, pcm=pcm, append=append):
                    log.debug("call %s: playing prompt %d (%.1f s%s)", active.name, prompt_id, len(pcm) / 32000,
                              ", queued" if append else "")
                    self._play(active, pcm, append)
                case session.StopPlayback():
                    active.slot.port.outbox.clear()
                case session.Recognize(request_id=request_id, pcm=pcm, expected=expected):
                    self.helpers.recognize(active.serial, active.name, request_id, pcm, expected)
                case session.Perform(request=request):
                    self.helpers.perform(active.serial, active.sip_call_id, request)
                case session.SlowDown():
                    active.voice = dataclasses.replace(active.voice, speed=max(0.6, round(active.voice.speed * 0.8, 2)))
                case session.StartRecording() if self.settings.record_calls and active.recorder is None:
                    active.record = True
                    active.start_recording(self.settings.recordings_dir, calllog.now())
                    log.info("call %s: recorded from now on (a transfer that records)", active.name)
                case session.StartRecording():
                    pass  # recorded already, or recording is off for the box
                case session.EndCall(reason=reason):
                    self._hangup(active, reason)
                case session.StartTransfer(target=target):
                    self._start_transfer(active, target, time.monotonic())
                case _:
                    raise TypeError(f"call {active.name}: no way to carry out {effect!r}")

    def _hangup(self, active: ActiveCall, reason: str) -> None:
        if active.hangup_reason:
            return
        active.hangup_reason = reason
        prm = pj.CallOpParam()
        # unanswered: 480 after announcements on early media (the trunk's usual end of one), else 603
        prm.statusCode = 200 if active.answered else 480 if active.early else 603
        try:
            active.call.hangup(prm)
        except pj.Error as exc:
            log.warning("call %s: hangup failed: %s", active.name, exc.info())

    def _play(self, active: ActiveCall, pcm: bytes, append: bool = False) -> None:
        outbox = active.slot.port.outbox
        if not append:
            outbox.clear()
        pcm += bytes(-len(pcm) % FRAME_BYTES)
        outbox.extend(pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES))

def serve_worker(settings, index: int, overflow: bool = False) -> None:
    """Run one voice worker until SIGTERM/SIGINT."""
    import signal

    worker = VoiceWorker(settings, index, overflow)

    def stop(signum, frame):
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
