"""One call's media logic without SIP, audio devices or a clock: inputs are fed with explicit times and
the effects for the adapter and the events the flow sees are read back."""

from __future__ import annotations

import pytest

from tests.voice.call import test_endpointer
from tests.voice.playbook import STARTED_AT, context
from voice.asr import Transcript
from voice.call.events import (
    Answer,
    CallEnded,
    CallStarted,
    DigitsEntered,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    Replied,
    Say,
    SpeechRecognized,
    Transfer,
    TransferConnected,
    TransferFailed,
    UnknownCommand,
    Wake,
    Woken,
)
from voice.call.requests import FindSlots, SlotsFound
from voice.call.session import (
    ANNOUNCEMENT_ID,
    PLAYOUT_MARGIN_S,
    TRANSFER_FAILED_ID,
    AnswerCall,
    CallSession,
    EarlyMedia,
    EndCall,
    Perform,
    Play,
    Recognize,
    StartTransfer,
    StopPlayback,
    Synthesize,
)
from voice.flows.echo import EchoFlow

SPEECH = b"\x10\x27" * 320  # one 20 ms frame at 16 kHz, 640 bytes
SILENCE = b"\x00\x00" * 320
FRAME_S = 0.02
ANNOUNCEMENT = "この通話は録音されます。"


class ScriptedFlow:
    """Records every event; answers each one (CallEnded aside) with the next scripted list of commands."""

    def __init__(self, *replies):
        self.replies = [list(r) for r in replies]
        self.events = []

    def handle(self, event):
        self.events.append(event)
        if isinstance(event, CallEnded) or not self.replies:
            return []
        return self.replies.pop(0)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def session(flow, **kw):
    return CallSession(flow, call_id="c1", dialled="0586000001", caller="09011112222", started_at=STARTED_AT, **kw)


def pcm(seconds):
    return b"\x00\x00" * int(16000 * seconds)


def feed(s, frames, start, *, speech):
    """Feed `frames` frames from time `start`; returns all effects and the time after the last frame."""
    effects, now = [], start
    for _ in range(frames):
        effects += s.audio(SPEECH if speech else SILENCE, speech, now)
        now += FRAME_S
    return effects, now


def asking(text="ご用件をどうぞ", **listen):
    """A flow that answers, asks one question and then waits."""
    return ScriptedFlow([Answer(), Say(text, 1), Listen(**listen)])


def listening(s, now=0.0):
    """Start the call and play the question to its end: the session then listens from `now`+1."""
    s.start(now)
    s.prompt_ready(1, pcm(0.5), now)
    s.tick(now + 1.0)
    assert s.listening is not None
    return now + 1.0


# --- answering and the recording announcement --------------------------------------------------------


def test_answer_then_recording_announcement_before_the_flow_speaks():
    """With an announcement set, the call is answered and the announcement is synthesised first (the
    flow's prompt right behind it, so it is ready in time); the flow's prompt only plays when the
    announcement has, and the flow never hears of the announcement."""
    flow = asking()
    s = session(flow, announcement=ANNOUNCEMENT)
    assert s.start(0.0) == [AnswerCall(), Synthesize(ANNOUNCEMENT_ID, ANNOUNCEMENT), Synthesize(1, "ご用件をどうぞ")]
    assert s.prompt_ready(ANNOUNCEMENT_ID, pcm(1.0), 0.1) == [Play(ANNOUNCEMENT_ID, pcm(1.0))]
    assert s.prompt_ready(1, pcm(0.5), 0.2) == []  # made ahead: waits for its turn
    assert s.tick(0.5) == []
    assert s.tick(1.1 + PLAYOUT_MARGIN_S + 0.01) == [Play(1, pcm(0.5))]
    assert flow.events == [CallStarted("c1", "0586000001", "09011112222", STARTED_AT)]


def test_speech_and_keys_do_not_cut_the_announcement_short():
    """The announcement is barge_in=False: speaking or pressing a key during it neither stops playback
    nor reaches the flow, and it plays to its end."""
    flow = asking(max_digits=1)
    s = session(flow, announcement=ANNOUNCEMENT)
    s.start(0.0)
    s.prompt_ready(ANNOUNCEMENT_ID, pcm(3.0), 0.0)
    effects, now = feed(s, 20, 0.1, speech=True)
    more, now = feed(s, 40, now, speech=False)
    effects += more + s.digit("5", now)
    assert effects == []
    assert s.saying is not None and s.saying.prompt_id == ANNOUNCEMENT_ID
    assert s.tick(3.0 + PLAYOUT_MARGIN_S + 0.01) == []  # its successor was asked for at the start
    assert s.saying is not None and s.saying.prompt_id == 1
    assert flow.of(PromptFinished) == [] and flow.of(DigitsEntered) == []


@pytest.mark.parametrize("announcement", ["", "   "])
def test_no_announcement_when_empty(announcement):
    """An empty (or blank) announcement is skipped: the flow's first prompt follows the answer directly."""
    s = session(asking(), announcement=announcement)
    assert s.start(0.0) == [AnswerCall(), Synthesize(1, "ご用件をどうぞ")]


def test_audio_and_keys_before_the_answer_are_ignored():
    """Until the flow answers, caller audio is not even fed to the endpointer and keys are dropped."""
    flow = ScriptedFlow([])  # does not answer on CallStarted
    s = session(flow)
    assert s.start(0.0) == []
    effects, now = feed(s, 20, 0.0, speech=True)
    assert effects == [] and s.digit("1", now) == []
    assert not s.endpointer.in_speech and s.digits.buffer == ""
    assert flow.events == [CallStarted("c1", "0586000001", "09011112222", STARTED_AT)]


def test_early_media_announces_before_the_answer_and_a_flow_that_only_announces_never_answers():
    """With early media (the trunk wants it), the closed-hours announcement plays on the 183's media and
    the call ends unanswered: the caller pays nothing for it, and the recording notice is not said."""
    flow = ScriptedFlow([Answer(), Say("本日の受付は終了しました。", 1)], [HangUp("closed")])
    s = session(flow, announcement=ANNOUNCEMENT, early_media=True, ring_s=2.0)
    assert s.start(0.0) == [EarlyMedia(), Synthesize(1, "本日の受付は終了しました。")]
    assert s.prompt_ready(1, pcm(1.0), 0.1) == [Play(1, pcm(1.0))]
    assert s.tick(1.1 + PLAYOUT_MARGIN_S + 0.01) == [EndCall("closed")]
    assert not s.answered


def test_early_media_answers_before_the_first_prompt_that_asks_with_the_recording_notice_first():
    """A welcome announcement plays before the answer; the menu that follows is answered for before
    its prompt is read (its keys count from its first word), the recording notice ahead of it."""
    flow = ScriptedFlow([Answer(), Say("お電話ありがとうございます。", 1)],
                        [Say("1を押してください。", 2), Listen(max_digits=1)])
    s = session(flow, announcement=ANNOUNCEMENT, early_media=True)
    assert s.start(0.0) == [EarlyMedia(), Synthesize(1, "お電話ありがとうございます。")]
    s.prompt_ready(1, pcm(1.0), 0.0)
    assert s.tick(1.0 + PLAYOUT_MARGIN_S + 0.01) == [AnswerCall(), Synthesize(ANNOUNCEMENT_ID, ANNOUNCEMENT),
                                                     Synthesize(2, "1を押してください。")]
    assert s.answered


# --- prompts -----------------------------------------------------------------------------------------


def test_prompt_plays_for_its_length_plus_margin_then_finishes():
    """A prompt is done len(pcm)/32000 s (plus the playout margin) after its audio was handed over;
    then the flow gets PromptFinished(interrupted=False)."""
    flow = ScriptedFlow([Answer(), Say("ようこそ", 7)])
    s = session(flow)
    assert s.start(0.0) == [AnswerCall(), Synthesize(7, "ようこそ")]
    assert s.tick(5.0) == []  # still being synthesised: no time runs yet
    assert s.prompt_ready(7, pcm(2.0), 10.0) == [Play(7, pcm(2.0))]
    assert s.tick(12.0) == [] and s.tick(12.0 + PLAYOUT_MARGIN_S - 0.01) == []
    assert flow.of(PromptFinished) == []
    s.tick(12.0 + PLAYOUT_MARGIN_S + 0.01)
    assert flow.of(PromptFinished) == [PromptFinished(7, interrupted=False)]


def test_prompts_are_spoken_one_after_another():
    """Two Says in a row: the second is synthesised while the first plays (in pieces, as they come) and
    played, without a new request, as soon as the first has finished."""
    flow = ScriptedFlow([Answer(), Say("一つ目", 1), Say("二つ目。続き。", 2), Say("三つ目", 3)])
    s = session(flow)
    assert s.start(0.0) == [AnswerCall(), Synthesize(1, "一つ目"), Synthesize(2, "二つ目。続き。")]
    s.prompt_ready(1, pcm(1.0), 0.0)
    assert s.prompt_ready(2, pcm(0.5), 0.3, final=False) == [] and s.prompt_ready(2, pcm(0.2), 0.4) == []
    assert s.tick(1.1) == [Play(2, pcm(0.5)), Play(2, pcm(0.2), append=True), Synthesize(3, "三つ目")]
    assert flow.of(PromptFinished) == [PromptFinished(1)]
    s.tick(1.1 + 0.7 + PLAYOUT_MARGIN_S + 0.01)
    assert flow.of(PromptFinished) == [PromptFinished(1), PromptFinished(2)]


def test_prompt_ready_for_a_prompt_cut_short_is_dropped():
    """A key pressed while a prompt is still being synthesised cuts it; its audio arriving afterwards
    is not played."""
    flow = asking()
    s = session(flow)
    s.start(0.0)
    effects = s.digit("1", 0.5)
    assert effects[0] == StopPlayback()
    assert flow.of(PromptFinished) == [PromptFinished(1, interrupted=True)]
    assert s.prompt_ready(1, pcm(1.0), 0.8) == []


# --- barge-in ----------------------------------------------------------------------------------------


def test_speech_barges_in_after_100_ms():
    """Four speech frames (80 ms) are not yet speech; the fifth starts it: playback stops and the flow
    gets PromptFinished(interrupted=True), once."""
    flow = asking()
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    effects, now = feed(s, 4, 1.0, speech=True)
    assert effects == [] and flow.of(PromptFinished) == []
    assert s.audio(SPEECH, True, now) == [StopPlayback()]
    assert flow.of(PromptFinished) == [PromptFinished(1, interrupted=True)]
    effects, _ = feed(s, 10, now + FRAME_S, speech=True)
    assert StopPlayback() not in effects and len(flow.of(PromptFinished)) == 1


def test_clicks_do_not_barge_in():
    """Short bursts of 'speech' (under 100 ms each) leave the prompt playing."""
    flow = asking()
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    now, effects = 0.5, []
    for _ in range(5):
        more, now = feed(s, 3, now, speech=True)
        effects += more
        more, now = feed(s, 5, now, speech=False)
        effects += more
    assert effects == [] and flow.of(PromptFinished) == []


def test_key_barges_in():
    """A key during a barge-in prompt stops playback and reports the prompt interrupted."""
    flow = asking(max_digits=4)
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    assert s.digit("3", 1.0) == [StopPlayback()]
    assert flow.of(PromptFinished) == [PromptFinished(1, interrupted=True)]


def test_speech_begun_before_the_question_was_heard_neither_barges_in_nor_answers_it():
    """「いいえ、……違います」: the second half starts while the next question is being made. It does not
    cut that question short before the caller heard it, and it is not taken as the answer to it; speech
    after the question was heard for a moment is."""
    flow = ScriptedFlow([Answer(), Say("お名前をどうぞ", 1), Listen()], [], [])
    s = session(flow)
    s.start(0.0)
    _, now = feed(s, 10, 0.2, speech=True)  # the caller still speaking, before the prompt plays
    assert s.prompt_ready(1, pcm(0.3), now) == [Play(1, pcm(0.3))]
    effects, now = feed(s, 10, now, speech=True)
    assert StopPlayback() not in effects and flow.of(PromptFinished) == []
    s.tick(now + 0.2)  # the prompt has played: the Listen is on
    assert flow.of(PromptFinished) == [PromptFinished(1, False)]
    effects, now = feed(s, 40, now + 0.2, speech=False)  # the end of that speech
    assert not any(isinstance(e, Recognize) for e in effects)
    _, now = feed(s, 20, now + 0.5, speech=True)
    effects, _ = feed(s, 40, now, speech=False)
    assert any(isinstance(e, Recognize) for e in effects)


def test_speech_in_the_first_moment_of_a_prompt_does_not_cut_it():
    flow = asking()
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    effects, _ = feed(s, 10, 0.0, speech=True)
    assert StopPlayback() not in effects and flow.of(PromptFinished) == []


def test_barge_in_speech_becomes_the_answer():
    """Speech that cut the question short is recognised as the answer to it, and the audio handed over
    includes the speech."""
    flow = asking()
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    effects, now = feed(s, 20, 1.0, speech=True)
    assert effects == [StopPlayback()]
    effects, now = feed(s, 35, now, speech=False)
    (recognize,) = effects
    assert isinstance(recognize, Recognize)
    assert recognize.pcm.count(SPEECH) == 20 and len(recognize.pcm) % len(SPEECH) == 0


# --- speech answers ----------------------------------------------------------------------------------


def test_utterance_while_listening_is_recognised_and_delivered():
    """An utterance while listening gives one Recognize; its transcript, with the recogniser's other
    hypotheses, reaches the flow as SpeechRecognized, and the next step of the flow runs."""
    flow = ScriptedFlow([Answer(), Say("ご用件は", 1), Listen()],
                        [],  # PromptFinished
                        [Say("承知しました", 2)])
    s = session(flow)
    now = listening(s)
    effects, now = feed(s, 15, now, speech=True)
    assert effects == []  # nothing playing: no StopPlayback
    effects, now = feed(s, 35, now, speech=False)
    (recognize,) = effects
    assert recognize.request_id >= 1
    transcript = Transcript("予約したいです", 0.9, ("予約",))
    assert s.recognized(recognize.request_id, transcript, now + 1) == [Synthesize(2, "承知しました")]
    (event,) = flow.of(SpeechRecognized)
    assert (event.text, event.confidence, event.alternatives) == ("予約したいです", 0.9, ("予約",))
    # placed on the recording (seconds since the answer) for staff to play this turn
    assert event.duration_s == round(len(recognize.pcm) / 32000, 2) and 0 < event.offset_s < now - event.duration_s
    assert s.recognized(recognize.request_id, transcript, now + 2) == []  # delivered once only


def test_a_key_press_only_line_never_sends_audio_to_be_recognised():
    """On a dtmf_only line (speech=False) a caller talking over the prompt and into the question neither
    cuts the prompt short nor is recognised: the question ends by keys or by its timeout."""
    flow = ScriptedFlow([Answer(), Say("ボタンを押してください", 1), Listen(timeout_s=2.0)], [], [], [])
    s = session(flow, speech=False)
    s.start(0.0)
    s.prompt_ready(1, pcm(2.0), 0.0)
    effects, now = feed(s, 50, 0.5, speech=True)  # talking over the prompt
    assert effects == [] and s.saying is not None
    s.tick(2.2)
    effects, now = feed(s, 100, 2.2, speech=True)  # and into the question
    effects += feed(s, 50, now, speech=False)[0]
    assert not [e for e in effects if isinstance(e, Recognize)]
    s.tick(now + 1.0)
    assert flow.of(NoInput) and not flow.of(SpeechRecognized)


def test_a_questions_expected_answers_go_with_its_utterance_and_come_back_scored():
    """The answers a Listen expects are sent to be scored with the utterance; their scores reach the
    flow beside each answer, so the flow reads a score by the answer, not by position."""
    flow = ScriptedFlow([Answer(), Say("本庁舎ですね", 1), Listen(expected=("はい", "いいえ"))], [], [])
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 15, now, speech=True)
    (recognize,), now = feed(s, 35, now, speech=False)
    assert recognize.expected == ("はい", "いいえ")
    s.recognized(recognize.request_id, Transcript("いいね", 0.5, scores=(-1.5, 6.25)), now + 1)
    (event,) = flow.of(SpeechRecognized)
    assert event.scores == (("はい", -1.5), ("いいえ", 6.25))


def test_short_noise_while_listening_is_not_recognised():
    """A burst too short to be an utterance (under 140 ms voiced) asks for no recognition."""
    s = session(asking())
    now = listening(s)
    effects, now = feed(s, 6, now, speech=True)
    more, now = feed(s, 40, now, speech=False)
    assert [e for e in effects + more if isinstance(e, Recognize)] == []


VOICED = test_endpointer.voiced(8000.0)  # a loud voiced frame


def feed_loud(s, frames, start):
    """Loud voiced frames in which the VAD hears no voice (Silero misses some quick, high 「はい」),
    after a moment of the line's silence (loud is louder than that)."""
    effects, now = feed(s, 10, start, speech=False)
    for _ in range(frames):
        effects += s.audio(VOICED, False, now)
        now += FRAME_S
    return effects, now


def test_a_loud_answer_the_vad_missed_is_recognised_and_kept_only_if_words_are_heard():
    """While listening, an utterance only loudness found is recognised like any; a transcript with no
    words in it (noise) is no answer, and the question goes on listening to its no-input timeout."""
    flow = ScriptedFlow([Answer(), Say("本庁舎ですね", 1), Listen(timeout_s=5)], [], [Say("はい", 2)])
    s = session(flow)
    now = listening(s)
    _, now = feed_loud(s, 12, now)
    (recognize,), now = feed(s, 35, now, speech=False)
    assert s.recognized(recognize.request_id, Transcript("", 0.0), now) == []
    assert flow.of(SpeechRecognized) == [] and s.listening is not None
    _, now = feed_loud(s, 12, now)
    (recognize,), now = feed(s, 35, now, speech=False)
    s.recognized(recognize.request_id, Transcript("はい", 0.6), now)
    assert [e.text for e in flow.of(SpeechRecognized)] == ["はい"]


def test_a_loud_answer_over_the_prompt_cuts_it_short_once_words_are_heard_in_it():
    """「はい」 said over 「…ですね。よろしければ…」 that the VAD did not hear: it does not stop the prompt at
    once (a bump must not), but is recognised with the question's expected answers while the prompt
    plays; words heard in it cut the prompt short and answer the question (a caller who heard the
    prompt go on said 「はい」 again, into the next question). No words: the prompt plays on."""
    flow = ScriptedFlow([Answer(), Say("本庁舎ですね。よろしければ…", 1), Listen(expected=("はい", "いいえ"))], [], [])
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    effects, now = feed_loud(s, 12, 0.8)
    more, now = feed(s, 35, now, speech=False)
    (recognize,) = effects + more
    assert isinstance(recognize, Recognize) and recognize.expected == ("はい", "いいえ")
    assert flow.of(PromptFinished) == []
    effects = s.recognized(recognize.request_id, Transcript("はい", 0.6, scores=(6.0, -1.0)), now + 0.2)
    assert effects[0] == StopPlayback() and flow.of(PromptFinished) == [PromptFinished(1, interrupted=True)]
    (event,) = flow.of(SpeechRecognized)
    assert event.text == "はい" and event.scores == (("はい", 6.0), ("いいえ", -1.0))
    noise = asking("本庁舎ですね。よろしければ…")
    s = session(noise)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    _, now = feed_loud(s, 12, 0.8)
    (recognize,), now = feed(s, 35, now, speech=False)
    assert s.recognized(recognize.request_id, Transcript("", 0.0), now + 0.2) == []
    assert noise.of(PromptFinished) == [] and s.saying is not None
    keyed = asking("本庁舎ですね。よろしければ1を押してください", max_digits=4)
    s = session(keyed)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    _, now = feed_loud(s, 12, 0.8)
    (recognize,), now = feed(s, 35, now, speech=False)
    s.digit("1", now)  # a key first: what loudness found is no answer any more
    assert s.recognized(recognize.request_id, Transcript("はい", 0.6), now + 0.2) == []
    assert keyed.of(SpeechRecognized) == []


def test_stale_recognition_after_a_key_entry_is_ignored():
    """The caller spoke, then pressed a key before the transcript came back: the key entry answers the
    question and the late transcript is dropped."""
    flow = asking(max_digits=1)
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 15, now, speech=True)
    effects, now = feed(s, 35, now, speech=False)
    (recognize,) = effects
    s.digit("2", now)
    assert flow.of(DigitsEntered) == [DigitsEntered("2", "length")]
    assert s.recognized(recognize.request_id, Transcript("はい", 0.9), now + 1) == []
    assert flow.of(SpeechRecognized) == []


def test_recognition_with_an_unknown_request_id_is_ignored():
    """Only the transcript of the request awaited is delivered."""
    flow = asking()
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 15, now, speech=True)
    (recognize,), now = feed(s, 35, now, speech=False)
    assert s.recognized(recognize.request_id + 1, Transcript("いいえ", 0.9), now) == []
    s.recognized(recognize.request_id, Transcript("はい", 0.9), now)
    assert flow.of(SpeechRecognized) == [SpeechRecognized("はい", 0.9)]


# --- no input ----------------------------------------------------------------------------------------


def test_no_input_after_the_listen_timeout():
    """Silence for Listen.timeout_s (counted from when listening began) gives NoInput, once."""
    flow = asking(timeout_s=4.0)
    s = session(flow)
    now = listening(s)
    assert s.tick(now + 3.9) == [] and flow.of(NoInput) == []
    s.tick(now + 4.0)
    assert flow.of(NoInput) == [NoInput()]
    s.tick(now + 20.0)
    assert flow.of(NoInput) == [NoInput()]


def test_no_input_timer_does_not_run_during_the_prompt():
    """The wait starts when the question has been spoken, not when it was asked."""
    flow = asking(timeout_s=2.0)
    s = session(flow)
    s.start(0.0)
    s.tick(5.0)  # still synthesising
    s.prompt_ready(1, pcm(3.0), 5.0)
    s.tick(7.0)
    assert flow.of(NoInput) == []
    s.tick(8.1)  # prompt over: listening from here
    s.tick(10.0)
    assert flow.of(NoInput) == []
    s.tick(10.2)
    assert flow.of(NoInput) == [NoInput()]


def test_no_input_not_while_the_caller_is_speaking():
    """A caller still talking when the timeout passes gets no NoInput."""
    flow = asking(timeout_s=1.0)
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 100, now, speech=True)  # 2 s of speech, past the deadline
    assert s.endpointer.in_speech
    s.tick(now)
    assert flow.of(NoInput) == []


def test_no_input_not_while_recognition_is_pending():
    """While a transcript is awaited the timeout does not fire, however long recognition takes."""
    flow = asking(timeout_s=1.0)
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 15, now, speech=True)
    (recognize,), now = feed(s, 35, now, speech=False)
    s.tick(now + 30.0)
    assert flow.of(NoInput) == []
    s.recognized(recognize.request_id, Transcript("はい", 0.9), now + 31.0)
    assert flow.of(SpeechRecognized) == [SpeechRecognized("はい", 0.9)]


def test_no_input_not_while_an_entry_is_under_way():
    """A digit typed before the deadline holds NoInput off until the entry completes."""
    flow = asking(timeout_s=2.0, max_digits=4)
    s = session(flow)
    now = listening(s)
    s.digit("1", now + 1.5)
    s.tick(now + 2.5)
    assert flow.of(NoInput) == [] and flow.of(DigitsEntered) == []


# --- keys --------------------------------------------------------------------------------------------


def test_entry_ended_by_hash():
    """'#' ends an entry shorter than max_digits; the terminator is not part of the digits."""
    flow = asking(max_digits=6)
    s = session(flow)
    now = listening(s)
    for i, key in enumerate("42#"):
        s.digit(key, now + 0.3 * i)
    assert flow.of(DigitsEntered) == [DigitsEntered("42", "terminator")]


def test_entry_ended_by_length_applies_already_during_the_prompt():
    """The Listen after a prompt sets max_digits while the prompt plays: three keys, the first of them
    barging in, make one entry of three digits (not an entry of the first key alone)."""
    flow = asking(max_digits=3)
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(5.0), 0.0)
    assert s.digit("1", 1.0) == [StopPlayback()]
    s.digit("2", 1.3)
    assert flow.of(DigitsEntered) == []
    s.digit("3", 1.6)
    assert flow.of(DigitsEntered) == [DigitsEntered("123", "length")]


def test_entry_ended_by_the_inter_digit_timeout():
    """With fewer keys than max_digits and no '#', tick() ends the entry inter_digit_timeout_s after
    the last key."""
    flow = asking(max_digits=8, timeout_s=60.0, inter_digit_timeout_s=3.0)
    s = session(flow)
    now = listening(s)
    s.digit("0", now + 1.0)
    s.digit("9", now + 2.0)
    s.tick(now + 4.9)
    assert flow.of(DigitsEntered) == []
    s.tick(now + 5.0)
    assert flow.of(DigitsEntered) == [DigitsEntered("09", "timeout")]


def test_keys_when_nothing_was_asked_are_dropped():
    """An entry completed while no Listen is active does not reach the flow."""
    flow = ScriptedFlow([Answer(), Say("お知らせです", 1)])
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(1.0), 0.0)
    s.tick(2.0)
    s.digit("1", 3.0)
    s.tick(10.0)
    assert flow.of(DigitsEntered) == []


# --- ending ------------------------------------------------------------------------------------------


def test_hang_up_ends_the_call_and_tells_the_flow():
    """HangUp gives EndCall with its reason; the flow gets CallEnded once and nothing queued after the
    HangUp runs."""
    flow = ScriptedFlow([Answer(), HangUp("done"), Say("聞こえないはず", 1)])
    s = session(flow)
    assert s.start(0.0) == [AnswerCall(), EndCall("done")]
    assert s.over and s.end_reason == "done"
    assert flow.of(CallEnded) == [CallEnded("done")]
    assert s.ended("caller_hangup", 1.0) == [] and flow.of(CallEnded) == [CallEnded("done")]


def test_hang_up_after_a_prompt():
    """A HangUp queued behind a prompt waits until the prompt has played."""
    flow = ScriptedFlow([Answer(), Say("さようなら", 1), HangUp("bye")])
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(1.0), 0.0)
    assert s.tick(0.5) == []
    assert s.tick(1.1) == [EndCall("bye")]


def test_after_the_call_ended_every_input_is_ignored():
    """ended() tells the flow once; afterwards audio, keys, prompts, transcripts, ticks and another
    ended() all return nothing and reach no flow."""
    flow = asking(max_digits=1)
    s = session(flow)
    now = listening(s)
    _, now = feed(s, 15, now, speech=True)
    (recognize,), now = feed(s, 35, now, speech=False)
    assert s.ended("caller_hangup", now) == []
    assert flow.of(CallEnded) == [CallEnded("caller_hangup")]
    seen = len(flow.events)
    assert feed(s, 20, now, speech=True)[0] == []
    assert s.digit("1", now + 1) == []
    assert s.prompt_ready(1, pcm(1.0), now + 1) == []
    assert s.recognized(recognize.request_id, Transcript("はい", 0.9), now + 1) == []
    assert s.tick(now + 100) == []
    assert s.start(now + 100) == []
    assert s.ended("media_timeout", now + 101) == []
    assert len(flow.events) == seen and s.end_reason == "caller_hangup"


# --- the demo flow -----------------------------------------------------------------------------------


def play_through(s, effects, now):
    """Play every Synthesize in `effects` to its end; returns the effects that followed and the time."""
    following = []
    for effect in effects:
        if isinstance(effect, Synthesize):
            assert s.prompt_ready(effect.prompt_id, pcm(1.0), now) == [Play(effect.prompt_id, pcm(1.0))]
            now += 1.0 + PLAYOUT_MARGIN_S + 0.01
            following += s.tick(now)
    return following, now


def test_echo_flow_two_silences_say_goodbye_and_hang_up():
    """The real demo flow: greeting, silence, the no-input prompt, silence again, goodbye, then the call
    is ended with reason no_input."""
    flow = EchoFlow(context())
    s = session(flow)
    effects = s.start(0.0)
    assert effects[0] == AnswerCall() and "何かお話しください" in effects[1].text
    effects, now = play_through(s, effects[1:], 0.0)
    assert effects == []  # listening
    effects = s.tick(now + 6.0)
    assert len(effects) == 1 and "聞こえませんでした" in effects[0].text
    effects, now = play_through(s, effects, now + 6.0)
    assert effects == []
    effects = s.tick(now + 6.0)
    assert len(effects) == 1 and "失礼いたします" in effects[0].text
    effects, now = play_through(s, effects, now + 6.0)
    assert effects == [EndCall("no_input")]
    assert s.over and flow.log.outcome == "no_input"
    assert flow.log.path == ["greeting", "no_input", "goodbye"]


def test_echo_flow_reads_back_keys():
    """Keys ended by '#' during the greeting are read back by the demo flow."""
    flow = EchoFlow(context())
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(3.0), 0.0)
    assert s.digit("1", 0.5) == [StopPlayback()]
    s.digit("2", 0.8)
    effects = s.digit("#", 1.1)
    assert len(effects) == 1 and effects[0].text == "押されたボタンは、1、2、です。"


# --- transfer -----------------------------------------------------------------------------------------

def transferring(**kw):
    """A call whose flow has asked to transfer to `staff` right after answering."""
    flow = ScriptedFlow([Answer(), Transfer("staff")], [Say("他にご用件は", 2), Listen()])
    s = session(flow, **kw)
    effects = s.start(0.0)
    return flow, s, effects


def test_transfer_is_started_and_the_caller_is_not_listened_to_meanwhile():
    """Transfer becomes StartTransfer; while it is placed, speech, keys and time produce nothing (no
    barge-in, no recognition, no NoInput) and the flow hears nothing."""
    flow, s, effects = transferring()
    assert effects == [AnswerCall(), StartTransfer("staff")]
    talk, now = feed(s, 100, 1.0, speech=True)
    silence, now = feed(s, 100, now, speech=False)
    assert talk == silence == [] and s.digit("5", now) == [] and s.tick(now + 60) == []
    assert [type(e) for e in flow.events] == [CallStarted]


def test_connected_transfer_hands_the_call_over_for_good():
    """After TransferConnected the flow is done: its commands are dropped and audio is ignored."""
    flow, s, _ = transferring()
    assert s.transfer_connected(5.0) == []
    assert flow.of(TransferConnected) == [TransferConnected("staff")]
    assert feed(s, 100, 6.0, speech=True)[0] == [] and s.tick(100.0) == []
    s.ended("transfer_ended", 120.0)
    assert flow.of(CallEnded) == [CallEnded("transfer_ended")]


def test_failed_transfer_says_the_announcement_then_tells_the_flow():
    """Busy: the announcement is said (not cut short by the caller), then TransferFailed reaches the flow,
    whose next question is asked and listened to as usual."""
    flow, s, _ = transferring(transfer_failed_announcement="おつなぎできませんでした。")
    effects = s.transfer_failed("busy", 5.0)
    assert effects == [Synthesize(TRANSFER_FAILED_ID, "おつなぎできませんでした。")]
    assert s.prompt_ready(TRANSFER_FAILED_ID, pcm(1.0), 5.1) == [Play(TRANSFER_FAILED_ID, pcm(1.0))]
    assert feed(s, 20, 5.2, speech=True)[0] == []  # no barge-in on the announcement
    assert flow.of(TransferFailed) == []
    effects = s.tick(5.1 + 1.0 + PLAYOUT_MARGIN_S)
    assert flow.of(TransferFailed) == [TransferFailed("staff", "busy")]
    assert effects == [Synthesize(2, "他にご用件は")]


def test_failed_transfer_without_an_announcement_goes_straight_to_the_flow():
    flow, s, _ = transferring()
    assert s.transfer_failed("no_answer", 5.0) == [Synthesize(2, "他にご用件は")]
    assert flow.of(TransferFailed) == [TransferFailed("staff", "no_answer")]


def test_a_prompt_in_pieces_plays_as_they_come_and_ends_after_the_last():
    """The adapter synthesises sentence by sentence: the first piece plays at once, later ones queue
    behind it (append), and the prompt only finishes when the last piece has played, even if a piece
    arrives after the one before it ran out."""
    flow = asking()
    s = session(flow)
    s.start(0.0)
    assert s.prompt_ready(1, pcm(1.0), 0.0, final=False) == [Play(1, pcm(1.0))]
    assert s.tick(1.5) == []  # the first sentence is over, the second is not here yet: no PromptFinished
    assert s.prompt_ready(1, pcm(0.5), 1.6, final=True) == [Play(1, pcm(0.5), append=True)]
    assert s.tick(1.6 + PLAYOUT_MARGIN_S + 0.49) == []
    s.tick(1.6 + PLAYOUT_MARGIN_S + 0.51)
    assert flow.of(PromptFinished) == [PromptFinished(1, False)]


def test_pieces_of_a_prompt_cut_short_are_dropped():
    flow = asking()
    s = session(flow)
    s.start(0.0)
    s.prompt_ready(1, pcm(2.0), 0.0, final=False)
    _, now = feed(s, 10, 0.5, speech=True)  # barge-in
    assert flow.of(PromptFinished) == [PromptFinished(1, True)]
    assert s.prompt_ready(1, pcm(1.0), now, final=True) == []


# --- timers, requests, key entries per question, unknown commands -----------------------------------


def test_a_wake_timer_delivers_woken_once_and_can_be_moved_or_stopped():
    flow = ScriptedFlow([Answer(), Wake("hold", 2.0), Wake("gone", 1.0)], [Wake("hold", 5.0)], [], [])
    s = session(flow)
    s.start(0.0)
    s.tick(1.5)  # "gone" ran out; the flow moves "hold" when told
    assert flow.of(Woken) == [Woken("gone")]
    s.tick(3.0)
    assert flow.of(Woken) == [Woken("gone")]  # "hold" now runs to 6.5
    s.tick(6.5)
    assert flow.of(Woken) == [Woken("gone"), Woken("hold")]
    s.tick(20.0)
    assert len(flow.of(Woken)) == 2


def test_a_stopped_timer_never_fires_and_timers_end_with_the_call():
    flow = ScriptedFlow([Answer(), Wake("a", 1.0), Wake("a", 0), Wake("b", 1.0)])
    s = session(flow)
    s.start(0.0)
    s.ended("caller_hangup", 0.5)
    s.tick(5.0)
    assert flow.of(Woken) == []


def test_a_request_is_performed_and_its_answer_comes_back_as_replied():
    """A request goes out as Perform; its answer reaches the flow as Replied; a second answer, an
    answer to a request never made or one after the call ended is dropped."""
    request = FindSlots(7, venue_id=None, first_day=STARTED_AT.date())
    flow = ScriptedFlow([Answer(), request], [])
    s = session(flow)
    assert s.start(0.0) == [AnswerCall(), Perform(request)]
    result = SlotsFound(())
    s.replied(7, result, 0.2)
    s.replied(7, result, 0.3)
    s.replied(8, result, 0.3)
    assert flow.of(Replied) == [Replied(7, result)]
    late = ScriptedFlow([Answer(), FindSlots(1, venue_id=None, first_day=STARTED_AT.date())])
    s = session(late)
    s.start(0.0)
    s.ended("caller_hangup", 0.1)
    s.replied(1, result, 0.2)
    assert late.of(Replied) == []


def test_each_question_sets_its_own_key_entry():
    """A 4-key date ends at its 4th key; the next question's 10-digit landline number ends at # (an
    11-digit mobile one would end by its length)."""
    flow = ScriptedFlow([Answer(), Say("誕生日は", 1), Listen(max_digits=4, terminator="", timeout_s=30)],
                        [Listen(max_digits=11, timeout_s=30)], [])
    s = session(flow)
    now = listening(s)
    for i, key in enumerate("0304"):
        s.digit(key, now + 0.2 * i)
    s.digit("0", now + 2.0)
    for i, key in enumerate("586281111#"):
        s.digit(key, now + 2.2 + 0.2 * i)
    assert flow.of(DigitsEntered) == [DigitsEntered("0304", "length"), DigitsEntered("0586281111", "terminator")]


def test_something_that_is_no_command_is_an_error_not_silence():
    flow = ScriptedFlow([Answer(), "say hello"])
    with pytest.raises(UnknownCommand, match="say hello"):
        session(flow).start(0.0)


def test_a_flow_asking_for_the_recording_gets_it_started_in_its_turn():
    """RecordCall is carried out when its turn comes (after the prompt before it), as StartRecording."""
    from voice.call.events import RecordCall
    from voice.call.session import StartRecording
    flow = ScriptedFlow([Answer(), Say("おつなぎします", 1), RecordCall(), Transfer("staff")])
    s = session(flow)
    s.start(0.0)
    effects = s.prompt_ready(1, pcm(0.5), 0.0)
    assert not [e for e in effects if isinstance(e, StartRecording)]
    effects = s.tick(1.0)
    assert effects == [StartRecording(), StartTransfer("staff")]
