"""A worker's call places and the calls in them (state the worker's loop keeps per call), and each
call's recording and transcript (encrypted files under recordings_dir)."""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from db import crypto
from voice.call.media import MediaWatch
from voice.call.session import CallSession
from voice.call.transfer import TransferAttempt
from voice.recording import SUFFIX, TRANSCRIPT_SUFFIX, CallRecorder, save_transcript
from voice.sip.accounts import PhoneCall
from voice.sip.ports import FramePort
from voice.tts import Voice
from voice.vad import SileroVad

log = logging.getLogger(__name__)


@dataclass
class Slot:
    """One of the worker's four call places: a media port and a VAD, reused call after call."""

    port: FramePort
    vad: SileroVad
    call: ActiveCall | None = None


@dataclass
class ActiveCall:
    serial: int
    call: PhoneCall
    slot: Slot | None
    sip_call_id: str
    media: MediaWatch
    session: CallSession | None = None
    voice: Voice = field(default_factory=Voice)
    record: bool = False
    speech: bool = True  # the line listens to speech (not key-press only): its audio goes through the VAD
    recorder: CallRecorder | None = None
    recording_name: str = ""
    heard: list[dict] = field(default_factory=list)  # what was recognised and pressed, for staff review
    answered_at: float = 0.0
    answered: bool = False
    early: bool = False  # 183 with media sent (sip_early_media): announcements before the answer
    media_connected: bool = False
    on_hold: bool = False
    hangup_reason: str = ""
    transfer: TransferAttempt | None = None  # while a transfer is placed or talking
    transfer_target: str = ""  # the name of the target being (or last) transferred to
    live: tuple[str, str, str] = ("", "", "")  # (step, keys, state) last written for the live view
    leg: PhoneCall | None = None  # bridged: our call to the transfer target
    keeps_leg_place: bool = False  # may be put through (bridged): a call place is kept for the leg

    def progress(self) -> tuple[str, str, str]:
        """(step, keys so far, state) for the live view."""
        path = self.session.flow.log.path if self.session is not None else []
        keys = "".join(h["key"] for h in self.heard if "key" in h)
        if self.transfer is not None and self.transfer.state in ("ringing", "talking"):
            state = f"{self.transfer.state}:{self.transfer_target}"
        else:
            state = "flow"
        return (path[-1] if path else "", keys, state)

    @property
    def name(self) -> str:
        """How logs name the call: its SIP Call-ID, the same in every worker's log and the call log."""
        return self.sip_call_id

    def start_recording(self, recordings_dir: Path, now: datetime.datetime) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.sip_call_id)[:80]
        name = f"{now:%Y-%m}/{safe}{SUFFIX}"
        try:
            self.recorder = CallRecorder(recordings_dir / name, crypto.cipher())
            self.recording_name = name
        except OSError:
            log.exception("call %s: cannot start the recording", self.name)

    def finish_recording(self, recordings_dir: Path) -> tuple[str, float | None, str]:
        """Close the recording and save what was heard: (recording, its seconds, transcript) names."""
        if self.recorder is None:
            return "", None, ""
        try:
            self.recorder.close()
            recording, seconds, transcript = self.recording_name, round(self.recorder.seconds, 2), ""
            if self.heard:
                transcript = self.recording_name.replace(SUFFIX, TRANSCRIPT_SUFFIX)
                save_transcript(recordings_dir / transcript, self.heard, crypto.cipher())
            return recording, seconds, transcript
        except OSError:
            log.exception("call %s: the recording could not be saved", self.name)
            return "", None, ""
