"""SCIM 2.0 Users as Rituals members: what the gateway publishes about its Users (schemas,
resource type, service provider configuration) and the mapping between a User and a member
profile. Pure: no I/O, no clock (the date of a first join is given).

A User's ``id`` and ``userName`` are the member id (immutable: every event names the member by
it). The profile fields SCIM manages are the name, e-mail, team, department, manager, time zone
and first language; the others (working hours, office days, interests, ...) are the platform's
own: a replacement keeps them, a new member gets the defaults below.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, cast

from pydantic import Field, ValidationError
from scim2_models import (
    URN,
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    Filter,
    InvalidValueException,
    Manager,
    Mutability,
    Patch,
    Required,
    Resource,
    ResourceType,
    Returned,
    SchemaExtension,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models import Pagination as ScimPagination

from schemas.base import EventPayload
from schemas.members import MemberPaused, MemberProfile, MemberResumed
from services.common.domain.directory import Member, MemberStatus

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RITUALS_MEMBER = "urn:rituals:params:scim:schemas:extension:member:2.0:User"
USERS_ENDPOINT = "/Users"
MAX_RESULTS = 200
"""The most Users one page of a list holds."""

LANGUAGE_EXAMPLES = ["en", "nl", "de", "fr", "es", "en-GB", "pt-BR"]


class ScimInputError(InvalidValueException):
    """A User that cannot be a member profile; the detail names the attribute, not its value
    (values are personal data)."""


# -- what the gateway publishes about Users --------------------------------------------------


class MemberEmail(ComplexAttribute):
    value: Annotated[str | None, Required.true] = None
    """A work e-mail address; the first (or primary) one is where the member is reached."""


class EnterpriseMember(Extension):
    __schema__ = URN(ENTERPRISE_USER)

    department: Annotated[str | None, Required.true] = None
    """The department the member's team belongs to."""

    manager: Manager | None = None
    """The member's manager (another User)."""


class RitualsMember(Extension):
    """What Rituals knows of a member beyond the enterprise extension. Optional: without it, a
    member's team is their department (a department without teams is one team), and a User
    whose team is its department is shown without it."""

    __schema__ = URN(RITUALS_MEMBER)

    team: Annotated[str | None, Required.true] = None
    """The team the member works in."""


class User(Resource[AnyExtension]):
    __schema__ = URN(CORE_USER)

    external_id: Annotated[str | None, Mutability.read_only, Returned.never] = None
    """Not kept: an identity provider finds its Users by userName."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true, Mutability.immutable] = None
    """The member id: letters, digits and ``._:@-``, e.g. the work e-mail address."""

    display_name: Annotated[str | None, Required.true] = None
    """The name shown to colleagues."""

    emails: Annotated[list[MemberEmail] | None, Required.true] = None
    """Work e-mail addresses; the primary one (else the first) is used."""

    timezone: Annotated[str | None, Required.true] = Field(
        None, examples=sorted(zoneinfo.available_timezones())
    )
    """An IANA time zone name, e.g. Europe/Amsterdam."""

    preferred_language: Annotated[str | None, Required.true] = Field(
        None, examples=LANGUAGE_EXAMPLES
    )
    """A BCP 47 language tag (en, nl, en-GB): messages are written in it."""

    active: Annotated[bool | None, Mutability.write_only, Returned.never] = None
    """False: the identity provider deactivated the person, who takes part in nothing until
    active again (a pause without end); true: active again. Written, never read back: whether
    a member paused or opted out is their own business, not the identity provider's."""


def user_resource_type() -> ResourceType:
    return ResourceType(
        id="User",
        name="User",
        description="A member of the organisation's programme.",
        endpoint=USERS_ENDPOINT,
        schema_=CORE_USER,
        schema_extensions=[
            SchemaExtension(schema_=ENTERPRISE_USER, required=True),
            SchemaExtension(schema_=RITUALS_MEMBER, required=False),
        ],
    )


def service_provider_config(documentation: str | None = None) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=documentation,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        pagination=ScimPagination(
            index=True,
            cursor=False,
            default_pagination_method=ScimPagination.DefaultPaginationMethod.index,
            default_page_size=MAX_RESULTS,
            max_page_size=MAX_RESULTS,
        ),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A gateway token of the organisation, role admin to write "
                "(rituals gateway token).",
                primary=True,
            )
        ],
    )


def scim_provider(documentation: str | None = None) -> ScimProvider:
    """The description of the SCIM service: its schemas, resource type and configuration."""
    return ScimProvider(
        [User, EnterpriseMember, RitualsMember],
        [user_resource_type()],
        service_provider_config(documentation),
        # Identity providers send more than a member has (name parts, e-mail types, phone
        # numbers, ...): what the schemas do not declare is left out, not refused.
        ScimPolicy(unknown=ScimPolicy.Unknown.ignore),
    )


def user_model(provider: ScimProvider) -> Callable[[ResourceType], type[Resource[Any]]]:
    """The model of the Users the provider serves (the User with its extensions bound)."""

    def model_of(resource_type: ResourceType) -> type[Resource[Any]]:
        model = provider.model_for(resource_type)
        if model is None:
            raise LookupError(f"no model for the resource type {resource_type.name}")
        return cast("type[Resource[Any]]", model)

    return model_of


# -- mapping ----------------------------------------------------------------------------------


NEW_MEMBER_WORKING_HOURS = {"start": "09:00", "end": "17:30"}
"""What a new member gets for the working hours, which SCIM does not manage (Monday to Friday,
as a roster row without them)."""


def users_path(member_id: str) -> str:
    """A User's location relative to the SCIM root (the server makes it a URL)."""
    return f"Users/{member_id}"


def is_active(member: Member) -> bool:
    """What SCIM ``active`` means here: false only for a pause without end, the one a
    deactivation makes (a dated pause and an opt-out are the member's own)."""
    return not (member.status is MemberStatus.PAUSED and member.paused_until is None)


def activation_changes(
    member_id: str, current: Member | None, active: object
) -> list[EventPayload]:
    """The events a User's ``active`` asks for, after its profile's: deactivating pauses a
    member who takes part (or is on a dated pause) until reactivated; reactivating resumes only
    that pause. Anything but true or false asks for nothing."""
    takes_part = current is None or (
        current.status is not MemberStatus.OPTED_OUT and is_active(current)
    )
    if active is False and takes_part:
        return [MemberPaused(member_id=member_id, until=None)]
    if active is True and current is not None and not is_active(current):
        return [MemberResumed(member_id=member_id)]
    return []


def document_of(
    profile: MemberProfile, created: datetime, last_modified: datetime
) -> dict[str, Any]:
    """The User document of a member (SCIM attribute names)."""
    enterprise: dict[str, Any] = {"department": profile.department}
    if profile.manager_id is not None:
        enterprise["manager"] = {
            "value": profile.manager_id,
            "$ref": users_path(profile.manager_id),
        }
    own_team = profile.team != profile.department
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER, *([RITUALS_MEMBER] if own_team else [])],
        "id": profile.member_id,
        "userName": profile.member_id,
        "displayName": profile.display_name,
        "emails": [{"value": profile.email}],
        "timezone": profile.timezone,
        "preferredLanguage": profile.languages[0],
        ENTERPRISE_USER: enterprise,
        **({RITUALS_MEMBER: {"team": profile.team}} if own_team else {}),
        "meta": {
            "resourceType": "User",
            "created": created.isoformat(),
            "lastModified": last_modified.isoformat(),
            "version": version_of(profile),
        },
    }


def version_of(profile: MemberProfile) -> str:
    """A weak entity tag of the profile: it changes whenever the profile does."""
    digest = hashlib.sha256(profile.model_dump_json().encode()).hexdigest()[:16]
    return f'W/"{digest}"'


def profile_of(
    document: Mapping[str, Any],
    current: MemberProfile | None,
    first_day: date,
) -> MemberProfile:
    """The member profile a User document asks for. ``current``: the member's profile now
    (its fields SCIM does not manage are kept), None for a new member, who starts on
    ``first_day``. ScimInputError names the attribute that does not fit."""
    fields = _scim_fields(document)
    kept: dict[str, Any] = (
        current.model_dump()
        if current is not None
        else {"working_hours": NEW_MEMBER_WORKING_HOURS, "start_date": first_day}
    )
    earlier_languages = tuple(kept.get("languages", ()))
    language = fields.pop("language")
    fields["languages"] = (language, *(code for code in earlier_languages if code != language))
    try:
        return MemberProfile.model_validate({**kept, **fields})
    except ValidationError as error:
        attributes = sorted({_scim_name(str(item["loc"][0])) for item in error.errors()})
        raise ScimInputError(detail=f"invalid value of {', '.join(attributes)}") from None


SCIM_NAMES = {
    "member_id": "userName",
    "display_name": "displayName",
    "email": "emails",
    "timezone": "timezone",
    "languages": "preferredLanguage",
    "department": f"{ENTERPRISE_USER}:department",
    "manager_id": f"{ENTERPRISE_USER}:manager",
    "team": f"{RITUALS_MEMBER}:team",
}


def _scim_name(field: str) -> str:
    return SCIM_NAMES.get(field, field)


def _scim_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    enterprise = _section(document, ENTERPRISE_USER)
    manager = enterprise.get("manager") or {}
    department = _text(enterprise, "department", ENTERPRISE_USER)
    rituals = _section(document, RITUALS_MEMBER)
    return {
        "member_id": _text(document, "userName"),
        "display_name": _text(document, "displayName"),
        "email": _email(document.get("emails")),
        "timezone": _text(document, "timezone"),
        "language": _text(document, "preferredLanguage"),
        "department": department,
        "team": _text(rituals, "team", RITUALS_MEMBER) if rituals else department,
        "manager_id": manager.get("value") if isinstance(manager, Mapping) else None,
    }


def _section(document: Mapping[str, Any], urn: str) -> Mapping[str, Any]:
    section = document.get(urn)
    return section if isinstance(section, Mapping) else {}


def _text(document: Mapping[str, Any], name: str, urn: str | None = None) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        where = f"{urn}:{name}" if urn else name
        raise ScimInputError(detail=f"{where} is required")
    return value.strip()


def _email(emails: Any) -> str:
    """The primary e-mail address, else the first."""
    if not isinstance(emails, list) or not emails:
        raise ScimInputError(detail="emails is required")
    chosen = next((e for e in emails if isinstance(e, Mapping) and e.get("primary")), emails[0])
    value = chosen.get("value") if isinstance(chosen, Mapping) else None
    if not isinstance(value, str):
        raise ScimInputError(detail="emails.value is required")
    return value.strip()
