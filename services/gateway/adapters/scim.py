"""SCIM 2.0 over HTTP (``/scim/v2``), served by scim2-server's ASGI application over a storage
that reads the gateway's member projection and writes by publishing member events.

The bearer token picks the organisation: every User the client sees or changes is one of its
organisation's members. Reading needs a token of the organisation; writing, an admin token.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import structlog
from scim2_models import (
    Error,
    ForbiddenException,
    NotFoundException,
    PayloadTooLargeException,
    Resource,
    ResourceType,
    ResponseParameters,
    SCIMException,
    ScimFilter,
    SearchRequest,
    UnauthorizedException,
    UniquenessException,
)
from scim2_server.applications.asgi import ASGIApplication, Receive, Scope
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.storage import AsyncScimStorage, SearchPage
from scim2_server.utils import parametrize

from schemas.members import MemberLeft, MemberProfile
from services.common.domain.directory import Member, MemberStatus
from services.common.member_changes import profile_changes
from services.gateway.adapters.members import MemberWrites
from services.gateway.domain.scim_users import (
    activation_changes,
    document_of,
    profile_of,
)
from services.gateway.domain.tokens import Grant, TokenBook, bearer_token
from services.gateway.handlers import GatewayProcessor

log = structlog.get_logger("rituals.gateway.scim")

_ORGANISATION: ContextVar[str] = ContextVar("scim_organisation")
"""The organisation of the request being served (its token's)."""

READ_OPERATIONS = frozenset(
    {
        Operation.service_provider_config,
        Operation.resource_types,
        Operation.resource_type,
        Operation.schemas,
        Operation.schema,
        Operation.query,
        Operation.search,
    }
)


DISCOVERY = frozenset(
    {
        Operation.service_provider_config,
        Operation.resource_types,
        Operation.resource_type,
        Operation.schemas,
        Operation.schema,
    }
)


class NotReadyError(Exception):
    """The projection is not rebuilt yet (503)."""


class MemberStorage(AsyncScimStorage):
    """Users as the projection shows the organisation's members (those who have not left)."""

    def __init__(
        self,
        processor: Callable[[str], GatewayProcessor],
        model_of: Callable[[ResourceType], type[Resource[Any]]],
        writes: MemberWrites,
        now: Callable[[str], datetime],
    ) -> None:
        self._processor = processor
        self._model_of = model_of
        self._writes = writes
        self._now = now

    def _member(self, member_id: str) -> Member | None:
        member = self._processor(_ORGANISATION.get()).directory.member(
            _ORGANISATION.get(), member_id
        )
        return None if member is None or member.status is MemberStatus.LEFT else member

    def _resource(self, resource_type: ResourceType, member: Member) -> Resource[Any]:
        processor = self._processor(_ORGANISATION.get())
        key = (_ORGANISATION.get(), member.member_id)
        modified = processor.profile_changed_at.get(key, member.joined_at)
        model = self._model_of(resource_type)
        return model.model_validate(document_of(member.profile, member.joined_at, modified))

    async def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        member = self._member(resource_id)
        if member is None:
            raise NotFoundException(detail=f"no User {resource_id!r}")
        return self._resource(resource_type, member)

    async def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        resource_type = resource_types[0]
        model = self._model_of(resource_type)
        scim_filter = search_request.filter
        if scim_filter is not None and not scim_filter.models:
            scim_filter = parametrize(ScimFilter, model)(str(scim_filter))
        organisation = _ORGANISATION.get()
        users = [
            self._resource(resource_type, member)
            for member in self._processor(_ORGANISATION.get()).directory.members(organisation)
            if member.status is not MemberStatus.LEFT
        ]
        found = sorted(
            (user for user in users if scim_filter is None or scim_filter.match(user)),
            key=lambda user: str(user.id),
        )
        start = search_request.start_index_0 or 0
        stop = None if search_request.count is None else start + search_request.count
        return SearchPage(len(found), found[start:stop])

    async def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        document = resource.model_dump(mode="json")
        async with self._writes.lock:
            member_id = str(document.get("userName", ""))
            if self._member(member_id) is not None:
                raise UniquenessException(detail="userName is already taken")
            profile = profile_of(document, None, self._now(_ORGANISATION.get()).date())
            activation = activation_changes(member_id, None, document.get("active"))
            await self._write(
                [*profile_changes(self._directory(), _ORGANISATION.get(), [profile]), *activation]
            )
        return self._written(resource_type, profile)

    async def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        document = resource.model_dump(mode="json")
        async with self._writes.lock:
            member = self._member(str(resource.id))
            if member is None:
                raise NotFoundException(detail=f"no User {resource.id!r}")
            profile = profile_of(
                {**document, "userName": member.member_id},
                member.profile,
                self._now(_ORGANISATION.get()).date(),
            )
            activation = activation_changes(member.member_id, member, document.get("active"))
            await self._write(
                [*profile_changes(self._directory(), _ORGANISATION.get(), [profile]), *activation]
            )
        return self._written(resource_type, profile)

    async def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        async with self._writes.lock:
            if self._member(resource_id) is None:
                raise NotFoundException(detail=f"no User {resource_id!r}")
            await self._write([MemberLeft(member_id=resource_id)])

    def _written(self, resource_type: ResourceType, profile: MemberProfile) -> Resource[Any]:
        """The User as written: from the projection once it shows the write, else (the wait for
        it ran out) from the profile just published."""
        member = self._member(profile.member_id)
        if member is not None and member.profile == profile:
            return self._resource(resource_type, member)
        moment = self._now(_ORGANISATION.get())
        return self._model_of(resource_type).model_validate(document_of(profile, moment, moment))

    def _directory(self) -> Any:
        return self._processor(_ORGANISATION.get()).directory

    async def _write(self, payloads: list[Any]) -> None:
        organisation = _ORGANISATION.get()
        await self._writes.publish(organisation, payloads, self._now(organisation))


class ScimApplication(ASGIApplication):
    """scim2-server's application with the gateway's tokens and a bound on request bodies."""

    def __init__(
        self,
        storage: MemberStorage,
        tokens: TokenBook,
        max_body_bytes: int,
        ready: Callable[[], bool],
        **kwargs: Any,
    ):
        super().__init__(storage, **kwargs)
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.ready = ready

    async def read_request(self, scope: Scope, receive: Receive) -> ScimRequest:
        """Keep at most one byte more than the bound (the rest is read and dropped): a larger
        body is refused (413) once the client is authenticated."""
        request = ScimRequest(
            method=scope["method"],
            base_url=self.get_base_url(scope),
            path=self.split_path(self.get_path(scope)),
            query=dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True)),
            headers=[(name.decode(), value.decode()) for name, value in scope["headers"]],
        )
        body = b""
        more_body = True
        while more_body:
            message = await receive()
            if len(body) <= self.max_body_bytes:
                body += message.get("body", b"")
            more_body = message.get("more_body", False)
        request.body = body[: self.max_body_bytes + 1]
        return request

    def get_subject(self, request: ScimRequest) -> Grant | None:
        token = bearer_token(request.header("Authorization"))
        return None if token is None else self.tokens.grant(token)

    def check_auth(self, request: ScimRequest) -> None:
        grant = self.get_subject(request)
        if grant is None:
            raise UnauthorizedException(detail="a valid bearer token is required")
        operation = self.service.match(request).operation
        if operation not in READ_OPERATIONS and not grant.may_write:
            raise ForbiddenException(detail="this token may only read")
        if len(request.body) > self.max_body_bytes:
            raise PayloadTooLargeException(detail=f"the body is over {self.max_body_bytes} bytes")
        if operation not in DISCOVERY and not self.ready():
            raise NotReadyError

    def handle_exception(self, request: ScimRequest, exception: Exception) -> ScimResponse:
        """Log the error's kind only: its message may quote a request's values (names,
        addresses), which never go to the log."""
        if isinstance(exception, SCIMException):
            log.info(
                "scim request refused", status=exception.status, error=type(exception).__name__
            )
        else:
            log.error("scim request failed", error_type=type(exception).__name__)
        if isinstance(exception, NotReadyError):
            # Users are read and written against the projection: until it is rebuilt, a write
            # could take a known member for a new one.
            error = Error(status=503, detail="the gateway is rebuilding its state; retry shortly")
            body = error.model_dump()
            return ScimResponse(HTTPStatus.SERVICE_UNAVAILABLE, body, {"Retry-After": "5"})
        return self.service.error_response(exception)

    async def dispatch_request(self, request: ScimRequest) -> ScimResponse:
        grant = self.get_subject(request)
        token = _ORGANISATION.set(grant.org if grant is not None else "")
        try:
            return await super().dispatch_request(request)
        finally:
            _ORGANISATION.reset(token)
