"""SRU 1.1/1.2/2.0 server with CQL (see issue: SRU endpoint)."""
