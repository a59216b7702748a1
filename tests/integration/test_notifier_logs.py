"""No delivery leaks a credential or personal data into the logs, libraries' lines included.

Each channel delivers to a real peer (an SMTP server, an HTTP server) with logging configured as
the services configure it, at DEBUG, the most talkative level; the captured output is then
searched for the webhook URLs, their tokens, the signing secret and the recipient.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from services.common.logging import configure_logging
from services.notifier.adapters.base import Outcome
from services.notifier.adapters.smtp import EmailComposer, SmtpChannel
from services.notifier.adapters.webhooks import (
    HttpPoster,
    SignedWebhookChannel,
    SlackChannel,
    TeamsChannel,
)
from tests.integration.notifier_peers import HttpSink, SmtpSink, http_sink
from tests.unit.notifier.support import outgoing

SLACK_PATH = "/services/T0SLACK/B0SLACK/slack-token-4f1d"
TEAMS_PATH = "/webhookb2/teams-token-9c2e/IncomingWebhook/abc"
WEBHOOK_PATH = "/hooks/generic-token-77aa?key=query-secret-31"
PEER_LOGGER = "mail.log"
SIGNING_KEY = b"signing-secret-0123456789abcdef!"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_as_a_service() -> None:
    """In the test's body: the handler writes to the stderr that capsys captures then."""
    configure_logging("notifier", log_format="json", level="DEBUG")


@pytest.fixture
async def http() -> AsyncIterator[HttpSink]:
    async with http_sink() as sink:
        yield sink


async def test_deliveries_through_every_channel_log_no_url_token_or_recipient(
    restored_logging: None, http: HttpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    log_as_a_service()
    poster = HttpPoster(5)
    slack_url, teams_url = SecretStr(http.url(SLACK_PATH)), SecretStr(http.url(TEAMS_PATH))
    webhook_url = SecretStr(http.url(WEBHOOK_PATH))
    results = [
        await SlackChannel(poster, lambda _org: slack_url).send(outgoing("slack")),
        await TeamsChannel(poster, lambda _org: teams_url).send(outgoing("teams")),
        await SignedWebhookChannel(poster, lambda _org: (webhook_url, SIGNING_KEY)).send(
            outgoing("webhook")
        ),
    ]
    await poster.close()
    email = outgoing("email")
    with SmtpSink() as smtp:
        composer = EmailComposer("rituals@example.com", "Rituals")
        results.append(await SmtpChannel(composer, host="127.0.0.1", port=smtp.port).send(email))
    assert [result.outcome for result in results] == [Outcome.DELIVERED] * 4
    assert len(http.received) == 3
    assert len(smtp.received) == 1

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    # The SMTP server is the test's peer, in this process: what it logs is not the platform's.
    logged = "\n".join(json.dumps(line) for line in lines if line["logger"] != PEER_LOGGER)
    assert len(lines) > 3, "the deliveries were expected to log something"
    recipient = email.delivery.recipient
    secrets = [
        *(part for path in (SLACK_PATH, TEAMS_PATH, WEBHOOK_PATH) for part in path.split("/")[2:]),
        "query-secret-31",
        SIGNING_KEY.decode(),
        base64.b64encode(SIGNING_KEY).decode(),
        recipient.email,
        recipient.display_name,
    ]
    assert [secret for secret in secrets if secret and secret in logged] == []


def test_a_library_line_with_a_url_keeps_only_its_scheme_and_host(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log_as_a_service()
    logging.getLogger("some.http.client").warning(
        "POST https://someone:pw@hooks.slack.com/services/TEAM01/BOT02/token03?x=4 failed"
    )
    logged = capsys.readouterr().err
    assert "https://hooks.slack.com/[redacted]" in logged
    # Secrets that no timestamp contains ("T1" did, from 10:00 to 19:59).
    secrets = ("TEAM01", "BOT02", "token03", "x=4", "someone", "pw@")
    assert not any(secret in logged for secret in secrets)
