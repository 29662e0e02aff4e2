"""Call flows: sans-io state machines from voice.events to voice.commands."""
