"""GitHub's published OpenAPI description, as the fake GitHub's referee.

The description is the npm package `@octokit/openapi` (version pinned in
tests/openapi/package.json; `.ci/run` installs it with `npm ci --prefix tests/openapi`).
For an answer of operation (verb, path template) with status S:

- `complete` fills what the fake leaves out with the plainest value the schema allows
  (a required `avatar_url` becomes "https://github.invalid/", a nullable object None),
  so the fake spells out only the fields ci-ml reads;
- `violations` checks the whole answer against the schema of S, and that S is a status
  the description lists for the operation (errors it does not list must be GitHub's
  basic-error shape: rate limits, 401 and 5xx can answer any call).

OpenAPI 3.0's `nullable` is rewritten to JSON Schema's null type once, on load.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

PACKAGE = Path(__file__).resolve().parent / "openapi" / "node_modules" / "@octokit" / "openapi"
DESCRIPTION = PACKAGE / "generated" / "api.github.com.json"
URI = "urn:github-openapi"
FILLER_DATE = "2026-01-01T00:00:00Z"
FILLER_URI = "https://github.invalid/"

# Where GitHub's prose and its schema disagree, the prose wins (each override says where).
OVERRIDES: list[tuple[tuple[str, ...], Any]] = [
    # "Upload a release asset": after a 502 "the asset ... may be left in a `starter` state".
    (
        ("components", "schemas", "release-asset", "properties", "state", "enum"),
        ["uploaded", "open", "starter"],
    ),
]


class MissingDescription(RuntimeError):
    pass


@cache
def description() -> dict[str, Any]:
    if not DESCRIPTION.is_file():
        raise MissingDescription(
            f"{DESCRIPTION} is missing: run `npm ci --prefix tests/openapi` "
            "(GitHub's OpenAPI description, which the fake GitHub is checked against)"
        )
    doc: dict[str, Any] = _nullable_to_null(json.loads(DESCRIPTION.read_text(encoding="utf-8")))
    for path, value in OVERRIDES:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return doc


def version() -> str:
    return str(description()["info"]["version"])


def _nullable_to_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_null(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_to_null(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    return Registry().with_resource(URI, Resource(description(), DRAFT202012))  # type: ignore[call-arg]


@cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{URI}#{pointer}"}, registry=_registry())


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _resolve(node: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(node, its JSON pointer) after following local $refs."""
    pointer = ""
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#")
        node = description()
        for key in pointer.strip("/").split("/"):
            node = node[key.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def response_schema(path: str, verb: str, status: int) -> tuple[str | None, bool]:
    """(JSON pointer of the answer's schema or None for no body, whether S is listed)."""
    operation = description()["paths"][path][verb.lower()]
    answer = operation["responses"].get(str(status))
    if answer is None:
        return "/components/schemas/basic-error", False
    answer, pointer = _resolve(answer)
    if not pointer:
        pointer = "/".join(["/paths", _escape(path), verb.lower(), "responses", str(status)])
    if "application/json" not in answer.get("content", {}):
        return None, True
    return f"{pointer}/content/application~1json/schema", True


ALIASES = {"/repos/{owner}/{repo}/git/refs/{ref}": "/repos/{owner}/{repo}/git/ref/{ref}"}


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Every path of the description as a regex, literal segments first (`releases/latest`
    before `releases/{release_id}`)."""
    found = []
    for template in description()["paths"]:
        regex = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if template.endswith(("/contents/{path}", "/git/ref/{ref}", "/git/refs/{ref}")):
            regex = regex.removesuffix("[^/]+") + ".+"  # these take slashes
        found.append((re.compile(f"^{regex}$"), template))
    return sorted(found, key=lambda t: t[1].count("{"))


def operation_path(path: str, verb: str) -> str:
    """The description's path template of a concrete request path ("" when none)."""
    for regex, template in _templates():
        operations = description()["paths"][template]
        if regex.match(path) and verb.lower() in operations:
            return template
    for regex, template in _templates():
        if regex.match(path) and template in ALIASES:
            return ALIASES[template]
    return ""


def violations(path: str, verb: str, status: int, body: Any) -> list[str]:
    where = f"{verb} {path} -> {status}"
    pointer, listed = response_schema(path, verb, status)
    if not listed and status < 400:
        return [f"{where}: the description lists no {status} answer for this operation"]
    if pointer is None and body not in (None, b"") and status >= 400:
        pointer = "/components/schemas/basic-error"  # GitHub's errors carry one, listed or not
    if pointer is None:
        return [] if body in (None, b"") else [f"{where}: expected no body, found one"]
    found = sorted(_validator(pointer).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [
        f"{where}: at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in found[:5]
    ]


def complete(path: str, verb: str, status: int, body: Any) -> Any:
    """`body` with every required field the fake left out filled in from the schema."""
    pointer, _ = response_schema(path, verb, status)
    if pointer is None or not isinstance(body, dict | list):
        return body
    return _fill(_node(pointer), body, 0)


def _node(pointer: str) -> dict[str, Any]:
    node: Any = description()
    for key in pointer.strip("/").split("/"):
        node = node[key.replace("~1", "/").replace("~0", "~")]
    return _resolve(node)[0]


def _fill(schema: dict[str, Any], value: Any, depth: int) -> Any:
    schema = _resolve(schema)[0]
    if depth > 12:
        return value
    if "allOf" in schema:
        for part in schema["allOf"]:
            value = _fill(part, value, depth + 1)
        return value
    if "anyOf" in schema or "oneOf" in schema:
        if value is None:
            return None
        branches = [_resolve(b)[0] for b in schema.get("anyOf") or schema["oneOf"]]
        for branch in branches:
            if _kind(branch) == _kind_of(value):
                return _fill(branch, value, depth + 1)
        return value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                value[key] = _plain(props.get(key, {}), depth + 1)
        for key, item in list(value.items()):
            if key in props:
                value[key] = _fill(props[key], item, depth + 1)
        return value
    if isinstance(value, list) and "items" in schema:
        return [_fill(schema["items"], item, depth + 1) for item in value]
    return value


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "object" if "properties" in schema else "")
    return kind[0] if isinstance(kind, list) else str(kind)


def _kind_of(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}
    return names.get(type(value), "number")


def _plain(schema: dict[str, Any], depth: int) -> Any:
    """The plainest value `schema` accepts: null where allowed, else empty or zero."""
    schema = _resolve(schema)[0]
    kind = schema.get("type")
    if (isinstance(kind, list) and "null" in kind) or "anyOf" in schema or "oneOf" in schema:
        branches = schema.get("anyOf") or schema.get("oneOf") or []
        if isinstance(kind, list) or any(_resolve(b)[0].get("type") == "null" for b in branches):
            return None
        return _plain(branches[0], depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema:
        return _fill(schema, {}, depth)
    return _plain_of(kind, schema, depth)


def _plain_of(kind: Any, schema: dict[str, Any], depth: int) -> Any:
    if kind == "string":
        return {"date-time": FILLER_DATE, "uri": FILLER_URI}.get(schema.get("format", ""), "")
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return _fill(schema, {}, depth)
