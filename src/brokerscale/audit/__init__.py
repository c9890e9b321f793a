"""`brokerscale audit`: read the audit log every change is recorded in."""

from brokerscale.audit.command import audit_command

__all__ = ["audit_command"]
