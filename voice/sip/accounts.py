"""pjsua2 calls and accounts: callbacks only note what happened for the worker's loop; account
configurations for the trunk, our own outgoing requests and the registration in register mode."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pjsua2 as pj

from appliance.settings import port_range, voice_workers
from voice.dispatcher import contact_address, registrar_host

if TYPE_CHECKING:
    from voice.sip.worker import VoiceWorker

log = logging.getLogger(__name__)


class PhoneCall(pj.Call):
    def __init__(self, worker: VoiceWorker, account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.worker = worker

    def onCallState(self, prm):
        info = self.getInfo()  # read now: after DISCONNECTED the call is gone from pjsua
        self.worker.notes.append(("state", self, info.state, info.lastStatusCode))

    def onCallMediaState(self, prm):
        self.worker.notes.append(("media", self))

    def onDtmfDigit(self, prm):  # RFC 4733 and SIP INFO (application/dtmf-relay) alike
        self.worker.notes.append(("digit", self, prm.digit))

    def onCallTransferStatus(self, prm):  # blind transfer: the caller's side reports on its call (NOTIFY)
        self.worker.notes.append(("xfer", self, prm.statusCode, prm.finalNotify))


class TrunkAccount(pj.Account):
    def __init__(self, worker: VoiceWorker):
        super().__init__()
        self.worker = worker

    def onIncomingCall(self, prm):
        self.worker.incoming(PhoneCall(self.worker, self, prm.callId), prm.rdata.wholeMsg)


class TrunkRegistration(TrunkAccount):
    """Register mode: keeps the appliance registered with the trunk or PBX (digest auth), through
    Kamailio, with Kamailio's address as the contact so that the trunk's calls arrive there."""

    def onRegState(self, prm):
        if prm.code // 100 == 2:
            log.info("registered with the trunk (%d %s, expires %d s)", prm.code, prm.reason, prm.expiration)
        else:
            log.warning("registration with the trunk failed: %d %s", prm.code, prm.reason)


def outbound_config(config: pj.AccountConfig, settings, proxy: str, password: str) -> pj.AccountConfig:
    """An account for our own requests (transfer calls), sent through Kamailio, with the trunk's
    credentials in register mode."""
    config.sipConfig.proxies.append(proxy)
    if settings.sip_trunk_mode == "register":
        user = settings.sip_username
        config.idUri = f"sip:{user}@{registrar_host(settings.sip_registrar)}"
        config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
    config.natConfig.contactRewriteUse = 0
    config.natConfig.viaRewriteUse = 0
    config.natConfig.sdpNatRewriteUse = 0
    config.natConfig.sipOutboundUse = 0
    return config


def registration_config(config: pj.AccountConfig, settings, proxy: str, password: str) -> pj.AccountConfig:
    config = outbound_config(config, settings, proxy, password)
    config.regConfig.registrarUri = f"sip:{settings.sip_registrar}"
    config.regConfig.timeoutSec = 300
    config.regConfig.retryIntervalSec = 30
    # the contact is Kamailio's, whatever address the registrar sees, so the trunk's calls come there
    config.sipConfig.contactForced = f"<sip:{settings.sip_username}@{contact_address(settings)}>"
    return config


class PjLog(pj.LogWriter):
    def write(self, entry):
        level = logging.ERROR if entry.level <= 1 else logging.WARNING if entry.level == 2 else logging.DEBUG
        log.log(level, "pjsip: %s", entry.msg.rstrip())


def endpoint_config(log_writer: pj.LogWriter, max_calls: int) -> pj.EpConfig:
    """threadCnt=0: the worker's one thread polls; the bridge at 16 kHz; pjsip's log into ours."""
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = False
    config.uaConfig.maxCalls = max_calls
    config.uaConfig.userAgent = "madoguchi"
    config.medConfig.clockRate = 16000
    config.medConfig.sndClockRate = 16000
    config.medConfig.noVad = True
    config.medConfig.ecTailLen = 0
    config.logConfig.consoleLevel = 0
    config.logConfig.level = 2
    config.logConfig.writer = log_writer
    return config


def account_config(settings, index: int, port: int) -> pj.AccountConfig:
    """An account of worker `index`: its own slice of rtp_ports (a second worker sharing pjsua's default
    range fails its calls with 486), and the public address for SDP behind NAT."""
    config = pj.AccountConfig()
    config.idUri = f"sip:madoguchi@127.0.0.1:{port}"
    first, last = port_range(settings.rtp_ports)
    workers = voice_workers(settings.voice_max_calls) + 1  # and the overflow worker
    span = (last - first + 1) // workers
    media = config.mediaConfig.transportConfig
    media.port = first + index * span
    media.portRange = span
    public = settings.sip_public_address or settings.sip_listen.rsplit(":", 1)[0]
    if public not in ("", "0.0.0.0"):
        media.publicAddress = public
    return config
