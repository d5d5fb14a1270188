"""Source systems (Koha, iLib, SQL databases, MARC export folders, OAI-PMH sources)."""
