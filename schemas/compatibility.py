"""Can events written under an OLD JSON Schema still be read under a NEW one?

Events stay on the log forever and are replayed by every new consumer, so a payload change must
not stop an old event from parsing. ``breaking_changes`` compares two schemas as pydantic writes
them (``$defs``/``$ref``, ``anyOf`` for optional values, ``enum``/``const``, arrays, nested
objects) and lists every change that could make an old event invalid.

Why not an existing library: ``jsoncompat`` (and checkers like it) also call an added optional
field breaking, because an old *reader* could meet a value it does not know. Our readers are
tolerant (payloads ignore unknown fields and default missing optional ones), so only the one
direction matters here: old documents under the new schema. One deliberate exception: a removed
field is reported although it parses (``extra="ignore"``), because the information is gone for
every consumer that still relies on it; such a change needs a new version and an upcaster.

The check is structural, not a full proof of schema inclusion: it compares keyword by keyword,
which is exact for what pydantic generates and conservative (reports a change) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]

_ALL_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_MAX_REF_DEPTH = 64


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable reasons why some document valid under ``old`` may be invalid under
    ``new``; empty when every old document still validates (additive, widening changes)."""
    problems = _Comparison(old_root=old, new_root=new).compare(old, new, "")
    return list(dict.fromkeys(problems))  # anyOf branches can report the same problem twice


# --- Reading schemas ----------------------------------------------------------------------------


def _pointer(root: Schema, ref: str) -> Schema:
    """The schema a local reference (``#/$defs/Name``, any JSON pointer) names in ``root``."""
    if not ref.startswith("#"):
        raise ValueError(f"only local references can be resolved, not {ref!r}")
    node: Any = root
    for token in filter(None, ref[1:].split("/")):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return _as_schema(node)


def _as_schema(node: Any) -> Schema:
    """Boolean schemas as objects: ``true`` accepts anything, ``false`` nothing."""
    if node is True:
        return {}
    if node is False:
        return {"not": {}}
    return dict(node)


def _resolve(schema: Any, root: Schema) -> Schema:
    """Follow ``$ref`` (keeping sibling keywords) and merge ``allOf`` into one schema."""
    resolved = _as_schema(schema)
    for _ in range(_MAX_REF_DEPTH):
        if "$ref" not in resolved:
            return _merge_all_of(resolved, root)
        siblings = {key: value for key, value in resolved.items() if key != "$ref"}
        resolved = {**_pointer(root, resolved["$ref"]), **siblings}
    raise ValueError("reference chain too long (a $ref pointing at itself?)")


def _merge_all_of(schema: Schema, root: Schema) -> Schema:
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for part in (_resolve(item, root) for item in schema["allOf"]):
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", ()), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _variants(schema: Schema, root: Schema) -> list[Schema]:
    """The alternatives a schema accepts: its ``anyOf``/``oneOf`` branches, or itself."""
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            shared = {key: value for key, value in schema.items() if key != keyword}
            return [
                variant
                for branch in schema[keyword]
                for variant in _variants({**shared, **_resolve(branch, root)}, root)
            ]
    return [schema]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(schema: Schema) -> list[Any] | None:
    """The values ``enum``/``const`` allow; None when the values are not enumerated."""
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _types(schema: Schema) -> frozenset[str]:
    if schema.get("not") == {}:
        return frozenset()
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if declared is not None:
        return frozenset(declared)
    values = _enum(schema)
    return frozenset(_json_type(value) for value in values) if values is not None else _ALL_TYPES


def _accepts_type(schema: Schema, json_type: str) -> bool:
    types = _types(schema)
    return json_type in types or (json_type == "integer" and "number" in types)


def _values_of_type(schema: Schema, json_type: str) -> list[Any] | None:
    values = _enum(schema)
    if values is None:
        return None
    numbers = ("integer", "number")
    # 1 and 1.0 are the same JSON number, so integer and number enum values are compared together.
    wanted = numbers if json_type in numbers else (json_type,)
    return [value for value in values if _json_type(value) in wanted]


def _where(path: str) -> str:
    return path or "<root>"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --- Comparing ----------------------------------------------------------------------------------


@dataclass
class _Comparison:
    old_root: Schema
    new_root: Schema
    _active: set[tuple[str, str]] = field(default_factory=set)
    """Reference pairs being compared: a recursive schema is compared once, not forever."""

    def compare(self, old: Any, new: Any, path: str) -> list[str]:
        old_ref, new_ref = _as_schema(old).get("$ref"), _as_schema(new).get("$ref")
        if old_ref is None or new_ref is None:
            return self._compare_now(old, new, path)
        if (old_ref, new_ref) in self._active:
            return []  # compared further up already: the schema is recursive
        self._active.add((old_ref, new_ref))
        try:
            return self._compare_now(old, new, path)
        finally:
            self._active.discard((old_ref, new_ref))

    def _compare_now(self, old: Any, new: Any, path: str) -> list[str]:
        old_schema, new_schema = _resolve(old, self.old_root), _resolve(new, self.new_root)
        return self._compare_resolved(old_schema, new_schema, path)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> list[str]:
        new_variants = _variants(new, self.new_root)
        return [
            problem
            for old_variant in _variants(old, self.old_root)
            for json_type in sorted(_types(old_variant))
            for problem in self._compare_type(old_variant, json_type, new_variants, path)
        ]

    def _compare_type(
        self, old: Schema, json_type: str, new_variants: Sequence[Schema], path: str
    ) -> list[str]:
        """Old values of one JSON type must fit at least one new alternative accepting it."""
        candidates = [variant for variant in new_variants if _accepts_type(variant, json_type)]
        if not candidates:
            if json_type == "null":
                return [f"{_where(path)}: no longer nullable (null is not accepted)"]
            return [f"{_where(path)}: type narrowed ({json_type} is no longer accepted)"]
        outcomes = [self._compare_same_type(old, new, json_type, path) for new in candidates]
        return min(outcomes, key=len)

    def _compare_same_type(self, old: Schema, new: Schema, json_type: str, path: str) -> list[str]:
        problems = _enum_problems(old, new, json_type, path)
        if json_type == "string":
            problems += _string_problems(old, new, path)
        elif json_type in ("integer", "number"):
            problems += _number_problems(old, new, path)
        elif json_type == "array":
            problems += self._array_problems(old, new, path)
        elif json_type == "object":
            problems += self._object_problems(old, new, path)
        return problems

    def _array_problems(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems = _size_problems(old, new, path, "minItems", "maxItems")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            problems.append(f"{_where(path)}: items must now be unique")
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        for index, old_item in enumerate(old_prefix):
            new_item = new_prefix[index] if index < len(new_prefix) else new.get("items", {})
            problems += self.compare(old_item, new_item, f"{path}[{index}]")
        if "items" in new or len(new_prefix) > len(old_prefix):
            problems += self._compare_items(old, new, len(old_prefix), path)
        return problems

    def _compare_items(self, old: Schema, new: Schema, start: int, path: str) -> list[str]:
        """Items after the old prefix: under new, each meets a prefix schema or ``items``."""
        new_prefix = new.get("prefixItems", [])
        old_items = old.get("items", {})
        problems = [
            problem
            for index in range(start, len(new_prefix))
            for problem in self.compare(old_items, new_prefix[index], f"{path}[{index}]")
        ]
        return problems + self.compare(old_items, new.get("items", {}), f"{path}[]")

    def _object_problems(self, old: Schema, new: Schema, path: str) -> list[str]:
        old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
        problems = []
        for name, old_property in old_properties.items():
            if name not in new_properties:
                problems.append(f"{_where(_child(path, name))}: field removed")
            else:
                problems += self.compare(old_property, new_properties[name], _child(path, name))
        problems += _required_problems(old, new, path)
        return problems + self._additional_problems(old, new, path)

    def _additional_problems(self, old: Schema, new: Schema, path: str) -> list[str]:
        old_extra, new_extra = (
            old.get("additionalProperties", True),
            new.get("additionalProperties", True),
        )
        if new_extra is True or old_extra is False:
            return []
        if new_extra is False:
            return [f"{_where(path)}: additional properties are no longer allowed"]
        return self.compare(old_extra, new_extra, _child(path, "*"))


# --- Keyword rules ------------------------------------------------------------------------------


def _enum_problems(old: Schema, new: Schema, json_type: str, path: str) -> list[str]:
    old_values, new_values = _values_of_type(old, json_type), _values_of_type(new, json_type)
    if new_values is None:
        return []
    if old_values is None:
        return [f"{_where(path)}: values restricted to {sorted(map(repr, new_values))}"]
    removed = [value for value in old_values if value not in new_values]
    return [f"{_where(path)}: enum value {value!r} removed" for value in removed]


def _string_problems(old: Schema, new: Schema, path: str) -> list[str]:
    problems = _size_problems(old, new, path, "minLength", "maxLength")
    for keyword in ("pattern", "format"):
        if keyword in new and new[keyword] != old.get(keyword):
            change = "changed" if keyword in old else "added"
            problems.append(f"{_where(path)}: {keyword} {change} ({new[keyword]!r})")
    return problems


def _size_problems(old: Schema, new: Schema, path: str, minimum: str, maximum: str) -> list[str]:
    problems = []
    if new.get(minimum, 0) > old.get(minimum, 0):
        problems.append(f"{_where(path)}: {minimum} raised to {new[minimum]}")
    if maximum in new and new[maximum] < old.get(maximum, float("inf")):
        problems.append(f"{_where(path)}: {maximum} lowered to {new[maximum]}")
    return problems


def _number_problems(old: Schema, new: Schema, path: str) -> list[str]:
    problems = []
    if _stricter(_bound(new, "minimum"), _bound(old, "minimum"), lower=True):
        problems.append(f"{_where(path)}: minimum raised")
    if _stricter(_bound(new, "maximum"), _bound(old, "maximum"), lower=False):
        problems.append(f"{_where(path)}: maximum lowered")
    if "multipleOf" in new and not _divides(new["multipleOf"], old.get("multipleOf")):
        problems.append(f"{_where(path)}: multipleOf {new['multipleOf']} added")
    return problems


def _bound(schema: Schema, keyword: str) -> tuple[float, bool] | None:
    """The stricter of ``minimum``/``exclusiveMinimum`` (or maximum) as (value, exclusive)."""
    exclusive_keyword = "exclusive" + keyword[0].upper() + keyword[1:]
    bounds = [(float(schema[keyword]), False)] if keyword in schema else []
    if isinstance(schema.get(exclusive_keyword), (int, float)) and not isinstance(
        schema.get(exclusive_keyword), bool
    ):
        bounds.append((float(schema[exclusive_keyword]), True))
    if not bounds:
        return None
    if keyword == "minimum":
        return max(bounds)  # the higher lower bound; exclusive wins a tie (True > False)
    return min(bounds, key=lambda bound: (bound[0], not bound[1]))


def _stricter(new: tuple[float, bool] | None, old: tuple[float, bool] | None, lower: bool) -> bool:
    if new is None:
        return False
    if old is None:
        return True
    if new[0] != old[0]:
        return new[0] > old[0] if lower else new[0] < old[0]
    return new[1] and not old[1]


def _divides(new: float, old: float | None) -> bool:
    """Every multiple of ``old`` is a multiple of ``new`` (no old constraint: never)."""
    return old is not None and (old / new).is_integer()


def _required_problems(old: Schema, new: Schema, path: str) -> Iterator[str]:
    old_required, old_properties = set(old.get("required", ())), old.get("properties", {})
    for name in new.get("required", ()):
        if name in old_required:
            continue
        if name in old_properties:
            yield f"{_where(_child(path, name))}: optional field became required"
        else:
            yield f"{_where(_child(path, name))}: new required field"
