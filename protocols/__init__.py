"""Protocol endpoints: each subpackage is one standard (SRU, OAI-PMH, Z39.50, SIP2)."""
