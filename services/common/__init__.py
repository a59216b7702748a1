"""Plumbing every service shares: settings, logging, the event runtime, the member directory."""
