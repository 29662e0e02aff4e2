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
  {"converse": [rule, ...], "model": WHISPER_FOLDER, "turns": 40}
                              answer what the engine asks, as a caller who listens: after each prompt
                              (then 1 s of quiet) transcribe it, take the first rule one of whose "when"
                              phrases its last 25 s hold (by text or by reading) and do its "say" (a WAV)
                              or "hangup"; with "keys": true, once asked again (or when the rule has no
                              "say") press its "keys" instead. A rule with "expect" answers "otherwise"
                              (a WAV, or key 2) when the prompt does not hold what it expects (a wrong
                              read-back: [{"any": [...], "among": [...]}, ...], see holds()); one with
                              "expect_next" asks that of the next prompt a rule with "confirms" answers
                              (the read-back of this answer). A rule with "menu_page" N is a menu read
                              a page at a time: the caller counts the pages (a miss re-reads one) and
                              answers "next_say"/"next_keys" until page N; one with "pick" (an
                              expectation) presses the number of the option that holds it (or says
                              its "pick_say" WAV for that number: 「二番です」), or answers
                              "none_say"/"none_keys"; one with "parts_say"/"parts_keys" (a list per
                              expectation) names the part of the read-back it denied last that was
                              wrong (the first expectation it did not hold); one with "repeat_last" answers as the caller
                              did last when that was a "yes_no" rule (a re-prompt that only says how to
                              answer), else with its own answer. A read-back asked
                              again is checked as the first time. A prompt no rule knows gets no
                              answer. With "barge_in": true it also transcribes at each pause within
                              a prompt and answers as soon as a rule matches, unless a "listen_to_end"
                              phrase was heard or the rule has "hear_all" (a read-back or a menu,
                              whose question comes last).
                              Until the engine hangs up, "turns" prompts, or 5 prompts in a row no rule
                              knew. Reports each turn.
"""

from __future__ import annotations

import difflib
import gc
import json
import re
import sys
import time
import unicodedata
import wave
from collections import deque
from pathlib import Path

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
        self.connected = False  # media flowing (early media too)
        self.confirmed = False  # answered (200 and ACK)
        self.transfers: list[tuple[str, Call]] = []  # blind transfers we were asked to make (REFER)

    def onCallTransferRequest(self, prm):  # accept (202) and place the new call as ourselves
        new = Call(self.acc, self.port)
        self.transfers.append((prm.dstUri, new))
        prm.newCall = new

    def onCallState(self, prm):
        info = self.getInfo()
        self.status = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.state, self.confirmed = "confirmed", True
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


def prompt_heard(port: Port, poll, timeout_s: float, quiet_s: float = 1.0,
                 understood=lambda pcm: False) -> tuple[bytes, int] | None:
    """The next prompt the engine says, from its first sound to quiet_s of silence after it, and how many
    frames after the call's start of listening its first sound came. At each pause within it (a
    sentence's end) understood(pcm so far) may say the question is clear: then it returns at once, as a
    caller who knows the answer speaks while the rest of the prompt plays."""
    start, quiet, pause = len(port.heard), int(quiet_s * 50), 12
    checked = 0  # frames of the prompt already shown to understood()
    # each frame's level is measured once, as it arrives (measuring all of a 20 s prompt every 10 ms poll
    # took most of a core per caller, which four callers took from the engine they measure)
    measured = 0
    first = last = None  # the prompt's first and latest frames above SPEECH_LEVEL

    def over():
        nonlocal checked, measured, first, last
        frames = port.heard[start:]
        for i in range(measured, len(frames)):
            if rms(frames[i]) > SPEECH_LEVEL:
                first = i if first is None else first
                last = i
        measured = len(frames)
        if last is None:
            return False
        silent = len(frames) - last
        if silent > quiet:
            return True
        if silent >= pause and last - checked >= 40:  # a pause after at least 0.8 s of new speech
            checked = last
            return understood(b"".join(frames[first:]))
        return False
    if not poll(timeout_s, over):
        return None
    frames = port.heard[start:]
    return b"".join(frames[first:]), first


def likeness(phrase: str, text: str) -> float:
    """How alike the phrase's reading is to the stretch of the text's that is most like it (0..1)."""
    if not phrase:
        return 0.0
    size = len(phrase)
    return max(difflib.SequenceMatcher(None, text[i:i + size], phrase, autojunk=False).ratio()
               for i in range(max(1, len(text) - size + 1)))


def sounds_in(phrase: str, text: str) -> bool:
    """The phrase's reading is somewhere in the text's, all but about one sound in four alike (Whisper
    base mishears the engine's prompts over G.711 as it does callers: 当てはまる as アテカマル)."""
    return likeness(phrase, text) >= 0.75


def holds(expectations: list[dict], text: str) -> bool:
    """The prompt read back what the caller meant: for each expectation, one of its "any" phrases
    sounds in it, or (with "among": what could have been read back there, as a caller knows the
    venues) the one of "among" it sounds most like is one of "any"; or one of its "exactly" phrases
    is written or read in it (a name); or, for a time, one of its
    "digits" forms is written in it (「3時」; Whisper writes a time read back in digits) and none of
    its "unless" ones (「3時30」 is not 3時); or, for a birth date, no other month and day than its "date"
    and no other year than its "years" (western, era) is written in it: what the caller's own Whisper
    garbles (「動画3中8年9月2中8日」) it cannot deny, as it did the right ones three times."""
    from voice.nlu.readings import loose
    said = loose(text)

    def met(expectation: dict) -> bool:
        if "exactly" in expectation:  # a name: one sound more or less is another name
            return any(e in text or loose(e) in said for e in expectation["exactly"])
        if "digits" in expectation:
            return any(d in text for d in expectation["digits"]) and not any(u in text for u in expectation["unless"])
        if "date" in expectation:  # a birth date read back: no other month and day, western or era year heard
            written = unicodedata.normalize("NFKC", text)
            days = {(int(m), int(d)) for m, d in re.findall(r"(\d{1,2})月(\d{1,2})日", written)}
            years = {int(y) for y in re.findall(r"(\d{4})年", written)}
            eras = {int(y) for y in re.findall(r"(?:昭和|平成)(\d{1,2})年", written)}
            year, era_year = expectation["years"]
            return days <= {tuple(expectation["date"])} and years <= {year} and eras <= {era_year}
        if expectation.get("among"):
            return max(expectation["among"], key=lambda phrase: likeness(loose(phrase), said)) in expectation["any"]
        return any(sounds_in(loose(e), said) for e in expectation["any"])
    return all(met(e) for e in expectations)


OPTION = re.compile(r"([1-9１-９一二三四五六七八九])番")


def picked(expectation: dict, text: str) -> int | None:
    """Which numbered option (「1番、…、2番、…」) holds what the caller expects, as it heard them."""
    marks = list(OPTION.finditer(text))
    for mark, following in zip(marks, [*marks[1:], None][:len(marks)], strict=True):
        option = text[mark.end():following.start() if following else len(text)]
        if holds([expectation], option):
            digit = unicodedata.normalize("NFKC", mark.group(1))
            return int(digit) if digit.isdigit() else "一二三四五六七八九".index(digit) + 1
    return None


MISSED = ("聞き取れませんでした", "聞こえませんでした")  # how the engine's re-prompts begin


def converse(step: dict, port: Port, call: Call, poll) -> list[dict]:
    from voice.asr.whisper import WhisperRecognizer
    from voice.nlu.readings import loose

    recognizer = WhisperRecognizer(Path(step["model"]), threads=2, beam_size=1)
    rules = [{**rule, "readings": [loose(w) for w in rule["when"]]} for rule in step["converse"]]
    missed = [loose(w) for w in MISSED]
    turns: list[dict] = []
    unknown = 0
    expect_next = None
    menu = None  # (the menu's rule, the page the caller thinks is read, whether it asked for the next)
    last_answer = last_expected = None  # what it answered last, and what it checked that read-back for
    wrong_part = 0  # which expectation the read-back it denied last did not hold
    hold = [loose(w) for w in step.get("listen_to_end", ())]

    def understand(pcm: bytes) -> tuple[str, dict | None]:
        # the question is at the end of a prompt, its last 25 s quick to transcribe (a caller slower than
        # the engine's no-input wait is heard as silence)
        samples = np.frombuffer(pcm, dtype=np.int16)
        text = recognizer.transcribe(samples[-16000 * 25:]).text
        if len(samples) > 16000 * 25:  # a long read-back: its beginning too (a window holds 30 s at most)
            text = recognizer.transcribe(samples[:16000 * 25]).text + text
        said = loose(text)
        rule = next((r for r in rules if any(w in text for w in r["when"])
                     or any(sounds_in(k, said) for k in r["readings"])), None)
        return text, rule

    def heard_carefully(pcm: bytes) -> list[str]:
        """The prompt listened to again with care (beam 5, and its other hypotheses): a read-back that did
        not hold as first heard is checked again before the caller says no, as a person who was not sure
        would (greedy Whisper wrote 「9月27日」 read back as 「9月2日」: a right read-back denied three times)."""
        samples = np.frombuffer(pcm, dtype=np.int16)
        recognizer.beam_size = 5
        try:
            tail = recognizer.transcribe(samples[-16000 * 25:])
            head = recognizer.transcribe(samples[:16000 * 25]).text if len(samples) > 16000 * 25 else ""
        finally:
            recognizer.beam_size = 1
        return [head + text for text in (tail.text, *tail.alternatives)]

    early: list[tuple[str, dict]] = []  # what a pause within the prompt made clear

    def understood(pcm: bytes) -> bool:
        text, rule = understand(pcm)
        if rule and not rule.get("hear_all") and not any(sounds_in(h, loose(text)) for h in hold):
            early.append((text, rule))
        return bool(early)

    while len(turns) < step.get("turns", 40) and call.state != "disconnected" and unknown < 5:
        early.clear()
        heard = prompt_heard(port, poll, step.get("prompt_timeout", 40),
                             understood=understood if step.get("barge_in") else lambda pcm: False)
        if heard is None:
            turns.append({"prompt": None})
            break
        pcm, first_sound = heard
        turn = {}
        if turns and turns[-1].get("said"):  # the turn's latency: end of our speech (0.2 s of silence sent
            # after it) to the first sound of the reply
            turn["reply_after_s"] = round(0.2 + first_sound * 0.02, 2)
        text, rule = early[0] if early else understand(pcm)
        said = loose(text)
        turn |= {"prompt": text, "rule": rule["when"][0] if rule else None} | ({"barged_in": True} if early else {})
        turns.append(turn)
        unknown = 0 if rule else unknown + 1
        if rule is None:
            continue
        if rule.get("hangup"):
            call.hangup(pj.CallOpParam(True))
            poll(2, lambda: call.state == "disconnected")
            break
        # asked again: the line says it did not understand, or asks the same question the same way (a
        # long prompt's apology may be before the 25 s transcribed), or asks anew after a read-back the
        # caller denied (what it said was misheard: a caller who may press keys does so now)
        previous = turns[-2] if len(turns) > 1 else {}
        asked_again = previous.get("denied") or any(sounds_in(w, said) for w in missed) or (
            previous.get("rule") == turn["rule"] and (previous.get("said") or previous.get("pressed")) is not None
            and difflib.SequenceMatcher(None, loose(previous["prompt"]), said, autojunk=False).ratio() >= 0.8)
        if rule.get("repeat_last") and last_answer is not None and last_answer.get("yes_no"):
            # 「はい」か「いいえ」で…: the yes/no question just asked, answered as before (else the rule's own
            # answer: a misheard yes/no question is no cue to say 「予約をお願いします」 again)
            rule, turn["repeated"] = last_answer, True
        expected = rule.get("expect") or (expect_next if rule.get("confirms") else None)
        if expected is None and asked_again and rule.get("confirms"):
            expected = last_expected  # the same read-back again: checked as the first time
        expect_next = rule.get("expect_next")  # what the read-back of this answer must hold
        if "menu_page" in rule:  # which page is read: the first, the same again after a miss, else the next
            page = 0 if menu is None or menu[0] is not rule else menu[1] + (0 if asked_again or not menu[2] else 1)
            menu = (rule, page, page != rule["menu_page"])
            turn["menu_page"] = page
        else:
            menu = None
        careful = heard_carefully(pcm) if expected and not holds(expected, text) else []
        if expected and not holds(expected, text) and not any(holds(expected, t) for t in careful):
            # a read-back of something else than the caller said: it says no (and presses 2)
            rule = {**rule, "say": rule["otherwise"], "keys": "2"}
            turn["denied"] = True
            wrong_part = next((i for i, e in enumerate(expected) if not any(holds([e], t) for t in (text, *careful))), 0)
        elif "parts_say" in rule:  # which part of the read-back it denied is wrong
            part = min(wrong_part, len(rule["parts_say"]) - 1)
            rule = {**rule, "say": rule["parts_say"][part], "keys": rule["parts_keys"][part]}
            turn["wrong_part"] = wrong_part
        elif menu and menu[2]:  # a page without what the caller wants: the next one
            rule = {k: v for k, v in {**rule, "say": rule.get("next_say"), "keys": rule.get("next_keys")}.items()
                    if v is not None}
        elif "pick" in rule:  # numbered options: the number of the one the caller wants, else none of them
            number = picked(rule["pick"], text)
            turn["picked"] = number
            rule = ({**rule, "keys": str(number), **({"say": rule["pick_say"][number - 1]} if "pick_say" in rule else {})}
                    if number else {**rule, "say": rule["none_say"], "keys": rule["none_keys"]})
        last_answer, last_expected = rule, expected
        # a caller who may press keys does so once the engine did not understand it (or always, for
        # what cannot be said well: a rule with only keys)
        keys = rule.get("keys") if step.get("keys") and (asked_again or "say" not in rule) else None
        if keys is not None:
            turn["pressed"] = keys
            for digit in keys:
                call.dialDtmf(digit)
                poll(0.25)
        elif "say" in rule:
            turn["said"] = True
            send_speech(port, poll, rule["say"])
    return turns


def send_speech(port: Port, poll, wav_path: str) -> None:
    """A 16 kHz WAV in real time, then 0.2 s of silence."""
    with wave.open(wav_path, "rb") as w:
        pcm = w.readframes(w.getnframes())
    pcm += bytes(-len(pcm) % FRAME)
    port.outbox.extend(pcm[i:i + FRAME] for i in range(0, len(pcm), FRAME))
    port.outbox.append(None)
    port.outbox.extend(bytes(FRAME) for _ in range(10))
    poll(len(pcm) / 32000 + 0.3, lambda: not port.outbox)


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
            send_speech(port, poll, step["say"])
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
        elif "converse" in step:
            report["steps"].append({"converse": converse(step, port, call, poll)})
        elif "wait_end" in step:
            report["steps"].append({"ended_by_engine": poll(step["wait_end"], lambda: call.state == "disconnected")})
    if call.state != "disconnected":
        call.hangup(pj.CallOpParam(True))
        poll(3, lambda: call.state == "disconnected")
    report["state"], report["status"], report["confirmed"] = call.state, call.status, call.confirmed
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
