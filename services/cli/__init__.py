"""The ``rituals`` command line: how an operator or an integration drives the platform."""

from services.cli.main import app

__all__ = ["app"]
