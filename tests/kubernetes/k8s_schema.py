"""Structural OpenAPI v3 schemas of CustomResourceDefinitions, applied to a
custom resource as the API server does: defaults filled in, unknown fields
pruned (or, with fieldValidation=Strict, reported), and every violation
reported with its field path in the API server's words, e.g.
`spec.port: Invalid value: 70000: spec.port in body should be less than or
equal to 65535`.

What it checks: type (object, array, string, integer, number, boolean,
x-kubernetes-int-or-string), nullable, required, enum, minimum/maximum
(and exclusive), minLength/maxLength, pattern, minItems/maxItems, items,
properties, additionalProperties, x-kubernetes-preserve-unknown-fields,
default. Not checked: format, x-kubernetes-validations (CEL), oneOf/anyOf
/allOf/not."""
import copy
import json
import re

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def show(value):
    return json.dumps(value) if isinstance(value, (str, dict, list)) else str(value).lower() \
        if isinstance(value, bool) else str(value)


class Validation:
    def __init__(self, strict):
        self.strict = strict
        self.errors = []     # "path: Invalid value: ...": reject the object
        self.unknown = []    # unknown field paths: pruned, or errors when strict

    def fail(self, path, message):
        self.errors.append(f"{path}: {message}")


def apply_schema(value, schema, strict=False):
    """Returns (value with defaults applied and unknown fields pruned,
    errors as "path: message", unknown field paths)."""
    v = Validation(strict)
    result = _walk(copy.deepcopy(value), schema, "", v)
    return result, list(v.errors), list(v.unknown)


def _walk(value, schema, path, v):
    if value is None:
        if not schema.get("nullable"):
            v.fail(path, f"Invalid value: \"null\": {path} in body must be of type "
                         f"{schema.get('type', 'object')}: \"null\"")
        return value
    if schema.get("x-kubernetes-int-or-string"):
        if not (TYPES["integer"](value) or TYPES["string"](value)):
            v.fail(path, f"Invalid value: {show(value)}: {path} in body must be of type "
                         "integer or string")
        return value
    kind = schema.get("type")
    if kind and not TYPES[kind](value):
        v.fail(path, f"Invalid value: \"{_type_name(value)}\": {path} in body must be of "
                     f"type {kind}: \"{_type_name(value)}\"")
        return value
    _check_scalar(value, schema, path, v)
    if isinstance(value, dict):
        return _walk_object(value, schema, path, v)
    if isinstance(value, list):
        _check_array(value, schema, path, v)
        items = schema.get("items")
        if items:
            return [_walk(item, items, f"{path}[{i}]", v) for i, item in enumerate(value)]
    return value


def _type_name(value):
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if TYPES[name](value):
            return name
    return "null"


def _check_scalar(value, schema, path, v):
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(e) for e in schema["enum"])
        v.fail(path, f"Unsupported value: {json.dumps(value)}: supported values: {allowed}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            low = schema["minimum"]
            if value < low or (schema.get("exclusiveMinimum") and value == low):
                word = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
                v.fail(path, f"Invalid value: {value}: {path} in body should be {word} {low}")
        if "maximum" in schema:
            high = schema["maximum"]
            if value > high or (schema.get("exclusiveMaximum") and value == high):
                word = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
                v.fail(path, f"Invalid value: {value}: {path} in body should be {word} {high}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            v.fail(path, f"Invalid value: {json.dumps(value)}: {path} in body should be at "
                         f"least {schema['minLength']} chars long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            v.fail(path, f"Too long: may not be longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            v.fail(path, f"Invalid value: {json.dumps(value)}: {path} in body should match "
                         f"'{schema['pattern']}'")


def _check_array(value, schema, path, v):
    if "minItems" in schema and len(value) < schema["minItems"]:
        v.fail(path, f"Invalid value: {len(value)}: {path} in body should have at least "
                     f"{schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        v.fail(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")


def _walk_object(value, schema, path, v):
    properties = schema.get("properties", {})
    for name, sub in properties.items():
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
    for name in schema.get("required", []):
        if name not in value:
            v.fail(_join(path, name), "Required value")
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    out = {}
    for name, item in value.items():
        child = _join(path, name)
        if name in properties:
            out[name] = _walk(item, properties[name], child, v)
        elif isinstance(additional, dict):
            out[name] = _walk(item, additional, child, v)
        elif additional is True or preserve or (not properties and not schema.get("type")):
            out[name] = item
        else:
            v.unknown.append(child)  # pruned
    return out


def _join(path, name):
    return f"{path}.{name}" if path else name
