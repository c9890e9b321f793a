"""`brokerscale load`: synthetic HL7 v2 / FHIR traffic at a target rate, a paced consumer, and verification."""

from brokerscale.load.command import load_command

__all__ = ["load_command"]
