"""Call flows: sans-io state machines from events to commands (voice/flows/base.py), chosen per
phone line by name and built for each call with its context."""

from __future__ import annotations

from voice.flows.base import Flow, FlowContext


def flow_names() -> list[str]:
    return sorted(_flows())


def check_flow_name(name: str) -> None:
    if name not in _flows():
        raise ValueError(f"unknown flow {name!r} (known: {', '.join(flow_names())})")


def create_flow(name: str, context: FlowContext) -> Flow:
    check_flow_name(name)
    return _flows()[name](context)


def _flows() -> dict:
    from voice.flows.booking import BookingFlow
    from voice.flows.echo import EchoFlow
    from voice.flows.ivr import IvrFlow

    return {"booking": BookingFlow, "echo": EchoFlow, "ivr": IvrFlow}
