"""Composition root of the gateway: the runtime keeps the read state, uvicorn serves HTTP, both
in one event loop (the HTTP handlers read the state the consumer folds, with no copy)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, cast

import structlog
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp

from infra.topics import Topic
from services.common.adapters.publisher import EventPublisher
from services.common.domain.directory import Member
from services.common.link_keys import LinkSettings
from services.common.logging import configure_logging
from services.common.runtime import UNHURRIED_POLL_SPACING_MS, ServiceDefinition, ServiceRuntime
from services.common.settings import ServiceSettings
from services.common.tracing import configure_tracing
from services.gateway.adapters.links import links_router
from services.gateway.adapters.members import MemberWrites
from services.gateway.adapters.read_api import read_api
from services.gateway.adapters.scim import MemberStorage, ScimApplication
from services.gateway.adapters.slack import EmailOf, slack_email_lookup, slack_router
from services.gateway.domain.scim_users import scim_provider, user_model
from services.gateway.domain.tokens import TokenBook
from services.gateway.handlers import GatewayProcessor
from services.gateway.settings import GatewaySettings

DEFINITION = ServiceDefinition(
    name="gateway",
    topics=(
        Topic.MEMBERS,
        Topic.COFFEE,
        Topic.NOTIFICATIONS,
        Topic.RITUALS,
        Topic.ONBOARDING,
        Topic.PULSE,
        Topic.CLOCK,
    ),
    new_processor=GatewayProcessor,
    poll_spacing_ms=UNHURRIED_POLL_SPACING_MS,  # a read state: a write waits at most this more
)
log = structlog.get_logger("rituals.gateway")


def gateway_processor(runtime: ServiceRuntime, organisation: str) -> GatewayProcessor:
    """The state the runtime keeps now of the organisation's partition (a rebuild replaces it:
    read it afresh every time)."""
    processor = runtime.ledgers.of(organisation).processor
    assert isinstance(processor, GatewayProcessor)
    return processor


def organisation_clock(runtime: ServiceRuntime) -> Callable[[str], datetime]:
    """An organisation's time now, as its events are dated: its latest tick, so that answers
    and changes fall in the organisation's own weeks (a simulated one's too); before the first
    tick, the wall clock (HTTP is where wall-clock time comes in, as on the command line)."""

    def now_of(organisation: str) -> datetime:
        ticked = gateway_processor(runtime, organisation).insights.now_of(organisation)
        return ticked if ticked is not None else datetime.now(UTC)

    return now_of


def build_http_app(
    runtime: ServiceRuntime,
    writes: MemberWrites,
    tokens: TokenBook,
    settings: GatewaySettings,
    ready: Callable[[], bool] | None = None,
    link_key: bytes | None = None,
    slack_email_of: EmailOf | None = None,
) -> FastAPI:
    """The HTTP surface over a runtime (started and stopped with the app). ``ready``: whether
    the projection is rebuilt (the runtime's readiness unless given); ``link_key``: the key
    one-click links are signed with (none: every link answers 404)."""
    is_ready = ready or (lambda: runtime.ready)
    clock = organisation_clock(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runtime.settings.metrics_port is not None:  # as every service, for Prometheus
            runtime.metrics.serve(runtime.settings.metrics_port)
        starting = asyncio.create_task(runtime.start(), name="gateway-runtime")
        try:
            yield
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await runtime.stop()
            await asyncio.to_thread(writes.close)

    app = FastAPI(
        title="Rituals gateway",
        version="1",
        description="The platform's HTTP surface: SCIM 2.0 provisioning under /scim/v2 and a "
        "read API for integrations and dashboards. See docs/gateway.md.",
        lifespan=lifespan,
    )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        ready = is_ready()
        return JSONResponse(
            {"ready": ready, "partitions": len(runtime.assignment)},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.state.tokens = tokens
    app.state.ready = is_ready
    app.include_router(read_api(lambda organisation: gateway_processor(runtime, organisation)))
    app.include_router(
        links_router(
            link_key,
            lambda organisation, member_id: gateway_processor(
                runtime, organisation
            ).directory.member(organisation, member_id),
            writes,
            clock,
        )
    )
    if settings.slack_signing_secret is not None:
        app.include_router(
            slack_router(
                settings.slack_signing_secret.get_secret_value(),
                settings.slack_workspaces,
                slack_email_of or slack_emails(settings),
                lambda organisation, address: member_by_email(
                    gateway_processor(runtime, organisation), organisation, address
                ),
                writes,
                link_key,
                settings.max_body_bytes,
                clock,
            )
        )
    provider = scim_provider()
    storage = MemberStorage(
        lambda organisation: gateway_processor(runtime, organisation),
        user_model(provider),
        writes,
        clock,
    )
    scim = ScimApplication(storage, tokens, settings.max_body_bytes, is_ready, provider=provider)
    app.mount("/scim", cast(ASGIApp, scim))
    return app


def slack_emails(settings: GatewaySettings) -> EmailOf:
    """Slack users' addresses from Slack's API (none known without a bot token)."""
    if settings.slack_bot_token is not None:
        return slack_email_lookup(settings.slack_bot_token.get_secret_value())

    async def unknown(_: str) -> str | None:
        return None

    return unknown


def member_by_email(processor: GatewayProcessor, organisation: str, address: str) -> Member | None:
    wanted = address.casefold()
    for member in processor.directory.members(organisation):
        if member.profile.email.casefold() == wanted:
            return member
    return None


def build_gateway(
    settings: GatewaySettings | None = None, service_settings: ServiceSettings | None = None
) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(DEFINITION, settings=service_settings or ServiceSettings())
    writes = MemberWrites(
        runtime,
        lambda: EventPublisher(runtime.kafka, runtime.topics),
        settings.visible_within_seconds,
    )
    link_key = LinkSettings().signing_key()
    app = build_http_app(runtime, writes, settings.token_book(), settings, link_key=link_key)
    return app, runtime


def uvicorn_config(app: Any, settings: GatewaySettings) -> uvicorn.Config:
    """No access log: SCIM filters put e-mail addresses in query strings, and the structured
    log says what a request changed (event ids and types) without personal data."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        server_header=False,
        lifespan="on",
    )


def run_gateway() -> None:
    """``python -m services.gateway``: serve until SIGINT/SIGTERM."""
    service_settings = ServiceSettings()
    configure_logging(
        "gateway", log_format=service_settings.log_format, level=service_settings.log_level
    )
    configure_tracing("gateway")
    logging.getLogger("scim2_server").setLevel(logging.WARNING)
    settings = GatewaySettings()
    app, _ = build_gateway(settings, service_settings)
    log.info("gateway listening", host=settings.host, port=settings.port)
    uvicorn.Server(uvicorn_config(app, settings)).run()
