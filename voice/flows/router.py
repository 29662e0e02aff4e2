"""Which flow answers a new call, and with which voice: the dialled number's phone line, or the busy
announcement on the overflow worker; a number that is no line, or a line set up wrong, is refused
with the SIP status the trunk should hear."""

from __future__ import annotations

from dataclasses import dataclass

from voice.flows import create_flow
from voice.flows.base import Flow, FlowContext, Line
from voice.flows.busy import BusyFlow
from voice.tts import Voice


@dataclass(frozen=True)
class Route:
    flow: Flow
    voice: Voice
    record: bool  # the line allows recording (the setting record_calls decides too)


@dataclass(frozen=True)
class Refusal:
    status: int  # 404: no such line; 500: the line is misconfigured
    reason: str


def route(line: Line | None, context: FlowContext, *, overflow: bool) -> Route | Refusal:
    if overflow:
        return Route(BusyFlow(context), Voice(), record=False)
    if line is None:
        return Refusal(404, "no active phone line for the dialled number")
    if line.mode == "dtmf_only" and line.flow != "ivr":
        return Refusal(500, f"phone line {line.did} is key-press only, but its flow {line.flow!r} listens to speech")
    try:
        flow = create_flow(line.flow, context)
        voice = Voice(engine=line.tts_engine, speed=line.tts_speed, volume=line.tts_volume, name=line.tts_voice)
        voice.validate()
    except ValueError as exc:
        return Refusal(500, f"phone line {line.did} is misconfigured: {exc}")
    return Route(flow, voice, record=line.record)
