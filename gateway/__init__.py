"""lienthong's core: configuration, canonical records, store, query model, host and CLI."""

__version__ = "0.1.0"
