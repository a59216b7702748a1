"""Adapters shared by the tools: reading the history and publishing events from outside a
service (the command line, the demo, the clock)."""
