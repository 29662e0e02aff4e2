"""Call flows: sans-io state machines from voice.call.events to voice.commands, chosen per phone line."""

from __future__ import annotations


def flow_names() -> list[str]:
    return sorted(_FLOWS())


def create_flow(name: str):
    try:
        return _FLOWS()[name]()
    except KeyError:
        raise ValueError(f"unknown flow {name!r} (known: {', '.join(flow_names())})") from None


def _FLOWS() -> dict:
    from voice.flows.echo import EchoFlow

    return {"echo": EchoFlow}
