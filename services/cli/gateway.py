"""``rituals gateway token``: a new bearer token of the gateway, shown once."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from services.cli.context import fail
from services.gateway.domain.tokens import ORGANISATION, TOKEN_PREFIX, Role, token_line

gateway_app = typer.Typer(help="The gateway (HTTP: SCIM and the read API).", no_args_is_help=True)

TOKEN_BYTES = 32
"""256 random bits: a plain SHA-256 of such a token cannot be reversed by guessing."""


@gateway_app.command("token")
def token(
    org: Annotated[str, typer.Option("--org", help="Organisation the token speaks for.")],
    role: Annotated[
        Role, typer.Option(help="admin: read and provision (SCIM); read: read only.")
    ] = Role.READ,
) -> None:
    """Print a new random token once (give it to the client) and the line that grants it (add
    it to RITUALS_GATEWAY_TOKENS_FILE, or to RITUALS_GATEWAY_TOKENS): only its hash is kept."""
    if not ORGANISATION.match(org):
        fail(f"{org!r} is not an organisation id (letters, digits and ._:@-)")
    new_token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    typer.echo(f"token (shown once, give it to the client): {new_token}")
    typer.echo(f"line for the token list: {token_line(org, role, new_token)}")
