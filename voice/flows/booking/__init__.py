"""The AI booking line (flow "booking"): see flow.py."""

from voice.flows.booking.flow import BookingFlow

__all__ = ["BookingFlow"]
