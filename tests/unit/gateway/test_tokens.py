"""Gateway tokens: the token list's two formats, grants, and what is refused."""

from __future__ import annotations

import json

import pytest

from services.gateway.domain.tokens import (
    Grant,
    Role,
    TokenListError,
    bearer_token,
    read_token_list,
    token_hash,
    token_line,
)


def test_a_line_of_the_list_grants_its_token_and_no_other() -> None:
    book = read_token_list(f"# comment\n\n{token_line('acme', Role.ADMIN, 'rit_a')}\n")
    assert book.grant("rit_a") == Grant("acme", Role.ADMIN)
    assert book.grant("rit_b") is None
    assert book.grant("") is None


def test_the_json_list_reads_as_the_lines_do() -> None:
    entries = [
        {"org": "acme", "role": "read", "sha256": token_hash("rit_r")},
        {"org": "globex", "role": "admin", "sha256": token_hash("rit_g")},
    ]
    book = read_token_list(json.dumps(entries))
    assert book.grant("rit_r") == Grant("acme", Role.READ)
    assert book.grant("rit_g") == Grant("globex", Role.ADMIN)
    assert not Grant("acme", Role.READ).may_write
    assert Grant("globex", Role.ADMIN).may_write


def test_only_the_hash_is_in_the_line() -> None:
    line = token_line("acme", Role.READ, "rit_secret")
    assert "rit_secret" not in line
    assert line == f"acme read {token_hash('rit_secret')}"


@pytest.mark.parametrize(
    "text",
    [
        "acme admin",
        f"acme owner {'a' * 64}",
        "acme admin not-a-hash",
        f"a b admin {'a' * 64}",
        '[{"org": "acme", "role": "admin"}]',
        "[not json",
    ],
)
def test_a_malformed_list_is_refused_without_quoting_hashes(text: str) -> None:
    with pytest.raises(TokenListError) as refused:
        read_token_list(text)
    assert "a" * 64 not in str(refused.value)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer rit_x", "rit_x"),
        ("bearer rit_x", "rit_x"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer a b", None),
        (None, None),
        ("", None),
    ],
)
def test_the_bearer_token_of_a_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
