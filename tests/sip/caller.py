"""A pjsua2 test caller, run as its own process (python -m tests.sip.caller SCRIPT.json): calls the
engine over G.711 (8 kHz, so speech goes through the same degradation as on a real line), follows a
script, records what it hears and prints a JSON report on its last line.

Script: {"uri": ..., "codec": "PCMU/8000/1", "steps": [...], "heard": "out.wav"} with steps
  {"wait_prompt": 20}         wait until the engine has spoken and then been silent for 0.8 s ("quiet": 2.5
                              waits for a longer silence, across prompts with gaps between them); after a
                              "say", also report reply_after_s (end of that speech to the reply's first sound)
  {"wait_speech": 20}         wait until the engine starts speaking (then keys or speech cut the prompt short)
  {"say": "speech.wav"}       send a 16 kHz 16-bit WAV in real time, then 0.2 s of silence
  {"dtmf": "12#", "method": "rfc2833" | "info", "gap": 0.25}
  {"sleep": 1.5}
  {"hangup": true}
  {"wait_end": 20}            wait for the engine to hang up
"""

from __future__ import annotations

import gc
import json
import sys
import time
import wave
from collections import deque

import numpy as np
import pjsua2 as pj

FRAME = 640
SPEECH_LEVEL = 300  # RMS above this is the engine talking


class Port(pj.AudioMediaPort):
    def __init__(self):
        super().__init__()
        self.outbox: deque[bytes | None] = deque()  # None marks the end of an utterance
        self.heard: list[bytes] = []
        self.speech_ended_at: int | None = None  # len(heard) when the last utterance's last frame went out

    def onFrameReceived(self, frame):
        self.heard.append(bytes(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else bytes(FRAME))

    def onFrameRequested(self, frame):
        try:
            data = self.outbox.popleft()
            if data is None:
                self.speech_ended_at = len(self.heard)
                data = self.outbox.popleft()
        except IndexError:
            return
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)


class Call(pj.Call):
    def __init__(self, account, port, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.acc = account
        self.port = port
        self.state = "calling"
        self.status = 0
        self.connected = False
        self.transfers: list[tuple[str, Call]] = []  # blind transfers we were asked to make (REFER)

    def onCallTransferRequest(self, prm):  # accept (202) and place the new call as ourselves
        new = Call(self.acc, self.port)
        self.transfers.append((prm.dstUri, new))
        prm.newCall = new

    def onCallState(self, prm):
        info = self.getInfo()
        self.status = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.state = "confirmed"
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.state = "disconnected"

    def onCallMediaState(self, prm):
        info = self.getInfo()
        media = info.media
        for i in range(len(media)):
            if media[i].type == pj.PJMEDIA_TYPE_AUDIO and media[i].status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                stream = self.getAudioMedia(i)
                stream.startTransmit(self.port)
                self.port.startTransmit(stream)
                self.connected = True


def rms(frame: bytes) -> float:
    samples = np.frombuffer(frame, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0


def main(script_path: str) -> None:
    with open(script_path, encoding="utf-8") as f:
        script = json.load(f)
    ep = pj.Endpoint()
    ep.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = False
    config.medConfig.clockRate = 16000
    config.medConfig.sndClockRate = 16000
    config.medConfig.noVad = True
    config.logConfig.consoleLevel = 1
    ep.libInit(config)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    transport.port = 0
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 255 if codec.codecId == script.get("codec", "PCMU/8000/1") else 0)
    account = pj.Account()
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:{script.get('from', '0901234567')}@127.0.0.1"
    account_config.mediaConfig.transportConfig.port = 0
    account.create(account_config)
    fmt = pj.MediaFormatAudio()
    fmt.init(pj.PJMEDIA_FORMAT_PCM, 16000, 1, 20000, 16)
    port = Port()
    port.createPort("caller", fmt)
    call = Call(account, port)
    prm = pj.CallOpParam(True)
    call.makeCall(script["uri"], prm)
    report = {"steps": []}

    def poll(seconds: float, until=lambda: False) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ep.libHandleEvents(10)
            if until():
                return True
        return until()

    poll(10, lambda: call.connected or call.state == "disconnected")
    report["answered"] = call.connected
    for step in script["steps"]:
        if call.state == "disconnected":
            break
        if "wait_prompt" in step:
            start, quiet_frames = len(port.heard), int(step.get("quiet", 0.8) * 50)

            def prompt_over(start=start, quiet_frames=quiet_frames):
                frames = port.heard[start:]
                spoke = [i for i, f in enumerate(frames) if rms(f) > SPEECH_LEVEL]
                return bool(spoke) and len(frames) - spoke[-1] > quiet_frames
            result = {"wait_prompt": poll(step["wait_prompt"], prompt_over)}
            if port.speech_ended_at is not None:  # turn latency: end of our speech to the reply's first sound
                reply = next((i for i in range(port.speech_ended_at, len(port.heard))
                              if rms(port.heard[i]) > SPEECH_LEVEL), None)
                result["reply_after_s"] = None if reply is None else round((reply - port.speech_ended_at) * 0.02, 3)
                port.speech_ended_at = None
            report["steps"].append(result)
        elif "wait_speech" in step:
            start = len(port.heard)
            report["steps"].append({"wait_speech": poll(
                step["wait_speech"], lambda start=start: any(rms(f) > SPEECH_LEVEL for f in port.heard[start:]))})
        elif "say" in step:
            with wave.open(step["say"], "rb") as w:
                pcm = w.readframes(w.getnframes())
            pcm += bytes(-len(pcm) % FRAME)
            port.outbox.extend(pcm[i:i + FRAME] for i in range(0, len(pcm), FRAME))
            port.outbox.append(None)
            port.outbox.extend(bytes(FRAME) for _ in range(10))
            poll(len(pcm) / 32000 + 0.3, lambda: not port.outbox)
            report["steps"].append({"said": step["say"]})
        elif "dtmf" in step:
            for digit in step["dtmf"]:  # one key at a time, as a hand presses them
                if step.get("method") == "info":
                    dtmf = pj.CallSendDtmfParam()
                    dtmf.digits = digit
                    dtmf.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                    call.sendDtmf(dtmf)
                else:
                    call.dialDtmf(digit)
                poll(step.get("gap", 0.25))
            report["steps"].append({"dtmf": step["dtmf"]})
        elif "sleep" in step:
            poll(step["sleep"])
        elif "hangup" in step:
            call.hangup(pj.CallOpParam(True))
            poll(2, lambda: call.state == "disconnected")
        elif "wait_end" in step:
            report["steps"].append({"ended_by_engine": poll(step["wait_end"], lambda: call.state == "disconnected")})
    if call.state != "disconnected":
        call.hangup(pj.CallOpParam(True))
        poll(3, lambda: call.state == "disconnected")
    report["state"], report["status"] = call.state, call.status
    if call.transfers:  # talk with the transfer target until it hangs up
        poll(script.get("transfer_talk", 20), lambda: all(new.state == "disconnected" for _, new in call.transfers))
        report["transfers"] = [{"to": to, "answered": new.connected, "state": new.state}
                               for to, new in call.transfers]
        for _, new in call.transfers:
            if new.state != "disconnected":
                new.hangup(pj.CallOpParam(True))
        poll(3, lambda: all(new.state == "disconnected" for _, new in call.transfers))
    if script.get("heard"):
        with wave.open(script["heard"], "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"".join(port.heard))
    report["heard_seconds"] = round(len(port.heard) * 0.02, 2)
    call = new = port = account = None  # every pjsua2 object released before libDestroy
    gc.collect()
    ep.libDestroy()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
