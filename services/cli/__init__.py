"""The ``rituals`` command line: how an operator or an integration drives the platform.

The application is ``services.cli.main:app``; this package imports nothing, so that any of its
modules (the demo uses ``services.cli.platform``) can be imported first.
"""
