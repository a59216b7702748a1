"""``rituals gateway token``: a new token shown once, and a token list line that grants it (and
holds only its hash)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from services.cli.main import app
from services.cli.platform import gateway_address
from services.gateway.domain.tokens import Grant, Role, read_token_list
from services.gateway.settings import GatewaySettings


def test_the_printed_line_grants_the_printed_token_and_holds_only_its_hash() -> None:
    result = CliRunner().invoke(app, ["gateway", "token", "--org", "acme", "--role", "admin"])
    assert result.exit_code == 0, result.output
    token = re.search(r"shown once, give it to the client\): (\S+)", result.output)
    line = re.search(r"line for the token list: (.+)", result.output)
    assert token is not None
    assert line is not None
    assert token.group(1) not in line.group(1)
    assert read_token_list(line.group(1)).grant(token.group(1)) == Grant("acme", Role.ADMIN)


def test_two_tokens_differ_and_read_is_the_default_role() -> None:
    first = CliRunner().invoke(app, ["gateway", "token", "--org", "acme"]).output
    second = CliRunner().invoke(app, ["gateway", "token", "--org", "acme"]).output
    assert first != second
    assert " acme read " in f" {first.splitlines()[1].split(': ', 1)[1]} "


def test_an_organisation_id_that_cannot_be_one_is_refused() -> None:
    result = CliRunner().invoke(app, ["gateway", "token", "--org", "a b"])
    assert result.exit_code == 2
    assert "not an organisation id" in result.output


def test_the_gateway_address_is_said_as_a_client_reaches_it() -> None:
    assert gateway_address(GatewaySettings(port=8123)) == "127.0.0.1:8123"
    assert gateway_address(GatewaySettings(host="0.0.0.0", port=80)) == "127.0.0.1:80"
    assert gateway_address(GatewaySettings(host="10.0.0.5")) == "10.0.0.5:8080"
