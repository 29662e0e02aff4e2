"""Key-press IVR lines (flow "ivr"): the staff-built graph of the line (db/flowgraph.py) walked by
keys; see flow.py."""

from voice.flows.ivr.flow import IvrFlow

__all__ = ["IvrFlow"]
