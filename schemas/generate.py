"""Generate the published event contract from the payload models.

``python -m schemas.generate`` writes, next to this module:

* ``json/<event type>.v<version>.json``: the JSON Schema (draft 2020-12) of the whole CloudEvent
  envelope carrying each catalogue payload, ``$id`` = the payload's ``dataschema`` URI;
* ``asyncapi.json``: an AsyncAPI 3.0 description of the topics, their messages and dead letters;
* ``CATALOGUE.md``: a table of every event type for people.

``python -m schemas.generate --check`` writes nothing and exits 1 listing the files that differ.

The files are checked in on purpose: they are the baseline the compatibility test compares the
models against, so a breaking change shows up as a failing test, not as a consumer outage.
Older versions of a payload's schema are kept (events of that version stay on the log forever);
only files of types or versions the catalogue does not know are removed.

This is a build tool, not part of the contract's runtime: unlike the rest of ``schemas`` it
imports ``infra.topics`` (and so kafka-python) for the topic names.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.topics import INFINITE_RETENTION, Topic, topic_for
from schemas.base import EventPayload
from schemas.catalogue import CATALOGUE, dataschema_uri
from schemas.envelope import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RejectionReason
from schemas.sealing import SEALED_TYPES, sealed_wire_model

SCHEMAS_DIR = Path(__file__).resolve().parent
JSON_DIR = SCHEMAS_DIR / "json"
ASYNCAPI_PATH = SCHEMAS_DIR / "asyncapi.json"
CATALOGUE_PATH = SCHEMAS_DIR / "CATALOGUE.md"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
CONTENT_TYPE_HEADER = "content-type"
DLQ_HEADERS: Mapping[str, str] = {
    "rituals-dlq-reason": "Why the record was refused (machine-readable).",
    "rituals-dlq-detail": "Field paths and messages explaining the refusal; never input values.",
    "rituals-dlq-service": "The service that refused the record.",
    "rituals-dlq-topic": "Topic the record was read from.",
    "rituals-dlq-partition": "Partition the record was read from (decimal).",
    "rituals-dlq-offset": "Offset of the record in that partition (decimal).",
}
"""Headers a dead-letter record carries on top of the original record's headers."""

_SCHEMA_FILE = re.compile(r"^(?P<type>[a-z_.]+)\.v(?P<version>\d+)\.json$")
_LOCAL_DEF_REF = "#/$defs/"
_COMPONENT_SCHEMA_REF = "#/components/schemas/"


# --- JSON Schemas -------------------------------------------------------------------------------


def schema_filename(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def parse_schema_filename(name: str) -> tuple[str, int] | None:
    """(event type, version) of a file written by ``schema_filename``; None for other files."""
    match = _SCHEMA_FILE.match(name)
    return (match["type"], int(match["version"])) if match else None


def docstring(model: type[EventPayload]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def summary(model: type[EventPayload]) -> str:
    """The docstring's first paragraph on one line (a first line alone may stop mid-sentence)."""
    return " ".join(docstring(model).split("\n\n", 1)[0].split())


def event_schema(model: type[EventPayload]) -> dict[str, Any]:
    """JSON Schema of the full envelope carrying ``model``: what ``decode_event`` accepts."""
    written = sealed_wire_model(model) if model.event_type in SEALED_TYPES else model
    schema = CloudEvent[written].model_json_schema()  # type: ignore[valid-type]
    schema["$id"] = dataschema_uri(model)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["title"] = f"{model.event_type} v{model.version}"
    schema["description"] = docstring(model)
    return schema


def render_json(document: Any) -> str:
    """Deterministic text: sorted keys, so regenerating an unchanged contract changes no byte."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# --- AsyncAPI -----------------------------------------------------------------------------------


def _channel_id(topic: Topic) -> str:
    return topic.name.lower()


def _dlq_channel_id(topic: Topic) -> str:
    return f"{_channel_id(topic)}DeadLetters"


def _models_on(topic: Topic) -> list[type[EventPayload]]:
    return [model for model in CATALOGUE.values() if topic_for(model.event_type) is topic]


def _component_refs(node: Any) -> Any:
    """Point ``#/$defs/X`` at ``#/components/schemas/X``: inside an AsyncAPI document a local
    reference resolves against the document root, where the payload's ``$defs`` do not exist."""
    if isinstance(node, dict):
        return {
            key: (
                value.replace(_LOCAL_DEF_REF, _COMPONENT_SCHEMA_REF, 1)
                if key == "$ref" and isinstance(value, str)
                else _component_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_component_refs(item) for item in node]
    return node


def _add_component_schemas(components: dict[str, Any], model: type[EventPayload]) -> dict[str, Any]:
    """Move the envelope schema's ``$defs`` into ``components``; return the envelope schema.

    Two models sharing a definition name must define it identically, or one would silently
    replace the other's schema."""
    schema = _component_refs(event_schema(model))
    for name, definition in schema.pop("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both called {name!r}")
    # $id would change the base URI that the component references resolve against.
    for key in ("$id", "$schema"):
        schema.pop(key)
    return dict(schema)


def _event_message(model: type[EventPayload], payload_ref: str) -> dict[str, Any]:
    return {
        "name": model.event_type,
        "title": f"{model.event_type} v{model.version}",
        "summary": summary(model),
        "description": docstring(model),
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "payload": {"$ref": payload_ref},
        "headers": {
            "type": "object",
            "properties": {
                CONTENT_TYPE_HEADER: {"type": "string", "const": CLOUDEVENTS_CONTENT_TYPE}
            },
            "required": [CONTENT_TYPE_HEADER],
        },
        "correlationId": {
            "description": "Shared by every event of one flow.",
            "location": "$message.payload#/correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "Organisation id (the orgid attribute): keeps an "
                    "organisation's events in order on one partition.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    headers: dict[str, Any] = {
        name: {"type": "string", "description": text} for name, text in DLQ_HEADERS.items()
    }
    headers["rituals-dlq-reason"]["enum"] = [reason.value for reason in RejectionReason]
    for name in ("rituals-dlq-partition", "rituals-dlq-offset"):
        headers[name]["pattern"] = "^[0-9]+$"
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record a service refused, unchanged, with why and where it came from.",
        "description": "Key, value and headers are the original record's (the value may not "
        "even be JSON); the rituals-dlq-* headers are added. Replaying a dead letter means "
        "publishing its value to the source topic again once the cause is fixed.",
        "payload": {"description": "The original record value, byte for byte."},
        "headers": {"type": "object", "properties": headers, "required": sorted(DLQ_HEADERS)},
    }


def _kafka_channel_binding(address: str) -> dict[str, Any]:
    return {
        "kafka": {
            "topic": address,
            "topicConfiguration": {
                "retention.ms": int(INFINITE_RETENTION),
                "retention.bytes": int(INFINITE_RETENTION),
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _channel(address: str, description: str, messages: Mapping[str, str]) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": {key: {"$ref": ref} for key, ref in messages.items()},
        "bindings": _kafka_channel_binding(address),
    }


def _operations(channel_id: str, message_keys: Sequence[str]) -> dict[str, Any]:
    """A send and a receive operation: the platform's services both publish and consume."""
    refs = [{"$ref": f"#/channels/{channel_id}/messages/{key}"} for key in message_keys]
    return {
        f"{action}{channel_id[0].upper()}{channel_id[1:]}": {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": refs,
        }
        for action in ("send", "receive")
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the platform's topics."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {"dead-letter": _dead_letter_message()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in Topic:
        keys = []
        for model in _models_on(topic):
            schema_key = f"{model.event_type}.v{model.version}"
            schemas[schema_key] = _add_component_schemas(schemas, model)
            messages[model.event_type] = _event_message(model, _COMPONENT_SCHEMA_REF + schema_key)
            keys.append(model.event_type)
        channel_id, dlq_id = _channel_id(topic), _dlq_channel_id(topic)
        channels[channel_id] = _channel(
            topic.value,
            f"Events of the {topic.value} stream, keyed by organisation id.",
            {key: f"#/components/messages/{key}" for key in keys},
        )
        channels[dlq_id] = _channel(
            f"{topic.value}.dlq",
            f"Records of {topic.value} a service refused.",
            {"dead-letter": "#/components/messages/dead-letter"},
        )
        operations |= _operations(channel_id, keys) | _operations(dlq_id, ["dead-letter"])
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Rituals",
            "version": "1.0.0",
            "description": "Event-sourced platform that helps hybrid teams stay connected. Every "
            "event is a CloudEvents 1.0 event in structured mode; a topic name may carry an "
            "environment prefix. Generated by `python -m schemas.generate`.",
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


# --- Markdown catalogue -------------------------------------------------------------------------


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _field_list(model: type[EventPayload]) -> str:
    return ", ".join(
        f"**`{name}`**" if field.is_required() else f"`{name}`"
        for name, field in model.model_fields.items()
    )


def catalogue_markdown() -> str:
    rows = [
        f"| `{model.event_type}` | `{topic_for(model.event_type).value}` | {model.version} "
        f"| {_markdown_cell(summary(model))} | {_field_list(model)} |"
        for model in sorted(CATALOGUE.values(), key=lambda m: m.event_type)
    ]
    return "\n".join(
        [
            "<!-- Generated by `python -m schemas.generate` (make schemas); do not edit. -->",
            "# Event catalogue",
            "",
            "Every event is a CloudEvents 1.0 envelope (structured mode, record key = `orgid`); "
            "the payload travels in `data`. Full schemas: [`json/`](json/), "
            "[`asyncapi.json`](asyncapi.json). Required payload fields are **bold**.",
            "",
            "| Event type | Topic | Version | Description | Payload fields |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )


# --- Writing and checking -----------------------------------------------------------------------


def generated_files() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        JSON_DIR / schema_filename(model.event_type, model.version): render_json(
            event_schema(model)
        )
        for model in CATALOGUE.values()
    }
    files[ASYNCAPI_PATH] = render_json(asyncapi_document())
    files[CATALOGUE_PATH] = catalogue_markdown()
    return files


def stale_schema_files() -> Iterator[Path]:
    """Schema files of types the catalogue no longer has, or of versions newer than the model's.
    Older versions are history: events written under them stay on the log."""
    for path in sorted(JSON_DIR.glob("*.json")):
        parsed = parse_schema_filename(path.name)
        model = CATALOGUE.get(parsed[0]) if parsed else None
        if parsed is None or model is None or parsed[1] > model.version:
            yield path


def differing_files(files: Mapping[Path, str]) -> list[str]:
    """Files (relative to ``schemas/``) whose content on disk is not what would be generated."""
    differing = [
        str(path.relative_to(SCHEMAS_DIR))
        for path, text in files.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    differing += [f"{path.relative_to(SCHEMAS_DIR)} (stale)" for path in stale_schema_files()]
    return differing


def write_files(files: Mapping[Path, str]) -> list[str]:
    """Write what changed, remove stale schema files; return the files touched."""
    touched = differing_files(files)
    for path in stale_schema_files():
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    arguments = parser.parse_args(argv)
    files = generated_files()
    if arguments.check:
        differing = differing_files(files)
        if differing:
            print(
                "Generated schema files are out of date; run `make schemas` "
                "(python -m schemas.generate):",
                *(f"  {name}" for name in differing),
                sep="\n",
                file=sys.stderr,
            )
            return 1
        print(f"{len(files)} generated schema files are up to date.")
        return 0
    touched = write_files(files)
    print(f"Wrote {len(files)} files under {SCHEMAS_DIR}; changed: {', '.join(touched) or 'none'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
