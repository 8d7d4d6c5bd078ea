"""Checking a JSON body against its schema in mailer.api.schemas before anything is done.

Only what the schemas use is checked here (object, properties, required, additionalProperties
false, type, items, enum); the rules of the values themselves (a region, a date, an address)
stay with the domain functions, which name the field they refuse. The schemas are also what
the OpenAPI document publishes, so a client reads the same rules this code applies.
"""

from __future__ import annotations

from typing import Any

from mailer.api.errors import ApiError

TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer",) and isinstance(value, bool):
        return False  # JSON true is not 1
    return isinstance(value, TYPES[kind])


def check(value: Any, schema: dict[str, Any], path: str = "") -> dict[str, Any]:
    """The body when it fits the schema; ApiError naming the field (`a.b[2]`) when not."""
    _check(value, schema, path)
    checked: dict[str, Any] = value
    return checked


def _check(value: Any, schema: dict[str, Any], path: str) -> None:
    kinds = schema.get("type", "object")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not any(_is(value, kind) for kind in kinds):
        raise ApiError("wrong_type", 400, field=path or "body", expected=" | ".join(kinds))
    if "enum" in schema and value not in schema["enum"]:
        raise ApiError("not_one_of", 400, field=path, choices=", ".join(str(c) for c in schema["enum"] if c))
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in value:
            if name not in properties and schema.get("additionalProperties") is False:
                raise ApiError("unknown_field", 400, field=_join(path, name))
        for name in schema.get("required", []):
            if name not in value:
                raise ApiError("required", 400, field=_join(path, name))
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], _join(path, name))
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(item, schema["additionalProperties"], _join(path, name))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def changed(row: Any, fields: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
    """The row's current values of `fields` with the body's on top: a PATCH changes only what it sends,
    and the domain's edit functions (made for the web form) take them all."""
    return {name: getattr(row, name) for name in fields} | values
