"""OAI-PMH 2.0 data provider (see issue: OAI-PMH endpoint)."""
