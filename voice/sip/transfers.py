"""Transfers in the worker: voice/call/transfer.py decides each step, this carries it out with pjsua2
(a call to the target through Kamailio with the ringback tone, REFER, CANCEL, joining the audio)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pjsua2 as pj

from voice import audio
from voice.call import transfer
from voice.call.transfer import TransferAttempt
from voice.sip.accounts import PhoneCall

if TYPE_CHECKING:
    from voice.sip.calls import ActiveCall

log = logging.getLogger(__name__)

MAX_CALLS = 4  # PJSUA_MAX_CALLS of the pjsua2-python wheel: a bridged transfer's leg takes one


class TransferLegs:
    """The VoiceWorker's transfer methods (it has settings, calls, _by_pj, outbound, _play, _hangup,
    _effects)."""

    def _start_transfer(self, active: ActiveCall, target: str, now: float) -> None:
        uri = transfer.target_uri(self.settings, target)
        attempt = TransferAttempt(uri, self.settings.transfer_mode, self.settings.transfer_timeout_s, now,
                                  place_free=len(self._by_pj) < MAX_CALLS)
        active.transfer, active.transfer_target = attempt, target
        if uri is None:
            log.warning("call %s: transfer to %r: no such name in transfer_targets", active.name, target)
        elif attempt.fell_back and self.settings.transfer_mode == "bridged":
            log.info("call %s: no call place free for a bridged transfer: asking the caller's side (REFER)",
                     active.name)
        else:
            log.info("call %s: transfer (%s) to %s", active.name, attempt.mode, target)
        self._transfer_actions(active, attempt.start(), now)

    def _transfer_actions(self, active: ActiveCall, actions, now: float) -> None:
        for action in actions:
            match action:
                case transfer.CallTarget(uri=uri) | transfer.ReferCaller(uri=uri):
                    try:
                        if isinstance(action, transfer.ReferCaller):
                            active.call.xfer(uri, pj.CallOpParam(True))
                        else:
                            active.leg = PhoneCall(self, self.outbound)
                            self._by_pj[id(active.leg)] = active
                            active.leg.makeCall(uri, pj.CallOpParam(True))
                            self._play(active, audio.ringback(self.settings.transfer_timeout_s, 16000).tobytes())
                    except pj.Error as exc:
                        log.warning("call %s: the transfer could not be placed: %s", active.name, exc.info())
                        if active.leg is not None:
                            self._by_pj.pop(id(active.leg), None)
                            active.leg = None
                        self._transfer_actions(active, active.transfer.could_not_place(), now)
                case transfer.CancelTarget() | transfer.EndTarget():
                    self._hangup_leg(active, answered=isinstance(action, transfer.EndTarget))
                case transfer.Connected():
                    if active.slot is not None:
                        active.slot.port.outbox.clear()  # the ringback
                    log.info("call %s: transfer answered: caller and target joined", active.name)
                    self._effects(active, active.session.transfer_connected(now))
                case transfer.EndCaller(reason=reason):
                    self._hangup(active, reason)
                case transfer.Failed(reason=reason):
                    active.transfer = None
                    if active.slot is not None:
                        active.slot.port.outbox.clear()  # the ringback
                    log.info("call %s: transfer failed: %s", active.name, reason)
                    if active.serial in self.calls:
                        self._effects(active, active.session.transfer_failed(reason, now))
                case _:
                    raise TypeError(f"call {active.name}: no way to carry out {action!r}")

    def _leg_note(self, active: ActiveCall, kind: str, values: list, now: float) -> None:
        leg = active.leg
        if kind == "media":
            try:
                self._bridge(active, leg.getInfo())
            except pj.Error as exc:
                log.warning("call %s: the transfer call's audio was not joined: %s", active.name, exc.info())
        elif kind == "state" and values[0] == pj.PJSIP_INV_STATE_CONFIRMED and active.serial in self.calls:
            self._transfer_actions(active, active.transfer.target_answered(), now)
        elif kind == "state" and values[0] == pj.PJSIP_INV_STATE_DISCONNECTED:
            del self._by_pj[id(leg)]
            active.leg = None
            if active.serial in self.calls and active.transfer is not None:  # else the caller hung up first
                self._transfer_actions(active, active.transfer.target_ended(values[1]), now)

    def _bridge(self, active: ActiveCall, info) -> None:
        media = info.media
        for index in range(len(media)):
            if media[index].type == pj.PJMEDIA_TYPE_AUDIO and media[index].status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                target = active.leg.getAudioMedia(index)
                caller = active.call.getAudioMedia(-1)
                active.slot.port.outbox.clear()  # the ringback
                caller.startTransmit(target)
                target.startTransmit(caller)
                target.startTransmit(active.slot.port)  # the recording hears both sides
                return

    def _hangup_leg(self, active: ActiveCall, *, answered: bool) -> None:
        if active.leg is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = 200 if answered else 487
        try:
            active.leg.hangup(prm)
        except pj.Error as exc:
            log.warning("call %s: hanging up the transfer call failed: %s", active.name, exc.info())
