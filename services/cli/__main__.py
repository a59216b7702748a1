"""``python -m services.cli``: the same as the installed ``rituals`` command."""

from services.cli.main import app

app(prog_name="rituals")
