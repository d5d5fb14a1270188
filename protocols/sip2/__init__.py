"""SIP2 automated circulation server (see issue: SIP2 endpoint)."""
