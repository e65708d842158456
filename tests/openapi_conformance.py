"""Hold every API answer the test suite sees to the OpenAPI schema the app publishes.

The fuzz test (`pytest -m fuzz`) rarely builds a valid body, so successful answers would go
unchecked there. The ordinary tests make hundreds of real calls, successful and not: conftest
wraps Django's `BaseHandler.get_response` (the test client, DRF's `APIClient`, the WSGI
application with its hot path and the live server all answer through it) and hands each answer
under `/api/v1/` to `ApiConformance.check`, which says what is wrong with it, if anything:

- a request refused before any operation is looked up (a Host Quorum does not serve, plain HTTP
  when HTTPS is required) gets that refusal: a 400 in the error shape, a 301 to HTTPS;
- the operation (path template and method) exists in the schema, else the answer must be the
  404 or 405 of an operation that does not exist, in the error shape;
- its status code is one the operation documents;
- its content type is one the documented response has (no content documented: an empty body);
- a JSON body conforms to the documented schema, `$ref`s resolved, read as OpenAPI 3.0
  (`nullable`). Objects are closed: a field the schema does not name is a mismatch,
  since a client reading the schema cannot know it exists.

The schema is generated once per session by drf-spectacular's generator, as `manage.py
spectacular` and `/api/v1/schema/` produce it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

# jsonschema ships no type hints (types-jsonschema is not a dev dependency).
from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from jsonschema.protocols import Validator  # type: ignore[import-untyped]

API_PREFIX = "/api/v1/"
# The schema itself and Swagger UI's page describe the API; they are not operations of it.
NOT_OPERATIONS = frozenset({"/api/v1/schema/", "/api/v1/docs/"})
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def generated_schema() -> dict[str, Any]:
    """The OpenAPI document as `/api/v1/schema/?format=json` serves it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    rendered: bytes = OpenApiJsonRenderer().render(schema, renderer_context={})
    document: dict[str, Any] = json.loads(rendered)
    return document


@dataclass
class _Path:
    template: str
    regex: re.Pattern[str]
    literal_length: int  # a literal segment beats a parameter: `rules/dry-run/` over `rules/{id}/`
    operations: dict[str, dict[str, Any]]


@dataclass
class ApiConformance:
    document: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    _paths: list[_Path] = field(init=False)
    _components: dict[str, Any] = field(init=False)
    _validators: dict[str, Validator] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._paths = []
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
            self._paths.append(
                _Path(
                    template=template,
                    regex=re.compile(pattern),
                    literal_length=len(re.sub(r"\{\w+\}", "", template)),
                    operations={method.upper(): operation for method, operation in item.items()},
                )
            )
        self._paths.sort(key=lambda p: -p.literal_length)
        self._components = _json_schemas(self.document["components"])

    def record(self, request: HttpRequest, response: HttpResponseBase) -> None:
        """Remember what is wrong with this answer to `request`, if anything."""
        problem = self.check(request, response)
        if problem:
            self.problems.append(problem)

    def take_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def check(self, request: HttpRequest, response: HttpResponseBase) -> str | None:
        method, path = request.method or "GET", request.path_info
        if not path.startswith(API_PREFIX) or path in NOT_OPERATIONS:
            return None
        status = str(response.status_code)
        try:
            request.get_host()
        except DisallowedHost:
            # Refused before any operation is looked up: a server that is not this API's.
            name = f"{method} {path} (Host {request.META.get('HTTP_HOST')!r} refused)"
            if status != "400":
                return f"{name} answered {status}, expected 400"
            return self._body_problem(name, status, response, "application/json", ERROR_REF)
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            # Plain HTTP is sent to HTTPS before any operation is looked up.
            location = str(response.get("Location", ""))
            if status != "301" or not location.startswith("https://"):
                return f"{method} {path} over plain HTTP answered {status} {location!r}, expected a 301 to HTTPS"
            return None
        described = next((p for p in self._paths if p.regex.fullmatch(path)), None)
        # HEAD is GET without a body (Django drops it); the schema lists GET only.
        operation_method = "GET" if method == "HEAD" else method
        if described is None or operation_method not in described.operations:
            # No such operation: the answer can only say so, in the error shape.
            name = f"{method} {path} (no such operation in the schema)"
            expected = "404" if described is None else "405"
            if status != expected:
                return f"{name} answered {status}, expected {expected}"
            return self._body_problem(name, status, response, "application/json", ERROR_REF)

        name = f"{method} {described.template}"
        responses: dict[str, Any] = described.operations[operation_method]["responses"]
        documented = responses.get(status) or responses.get(f"{status[0]}XX")
        documented = documented or responses.get("default")
        if documented is None:
            return f"{name} answered {status}, which the schema does not document (it documents {', '.join(responses)})"
        content: dict[str, Any] = documented.get("content", {})
        if not content:
            if not isinstance(response, HttpResponse) or response.content:
                return f"{name} answered {status} with a body; the schema documents none"
            return None
        media_type = response.get("Content-Type", "").split(";")[0].strip()
        if media_type not in content and "*/*" not in content:
            return f"{name} answered {status} as {media_type!r}; the schema documents {', '.join(content)}"
        if method == "HEAD":
            return None
        return self._body_problem(
            name, status, response, media_type, content.get(media_type, {}).get("schema")
        )

    def _body_problem(
        self,
        name: str,
        status: str,
        response: HttpResponseBase,
        media_type: str,
        schema: dict[str, Any] | None,
    ) -> str | None:
        if not isinstance(response, HttpResponse):
            # A streamed download (an export) is read once, by the test; its rows are not JSON
            # the schema could describe. Its status and content type were checked above.
            return None
        if not (media_type == "application/json" or media_type.endswith("+json")):
            return None  # a CSV or plain-text body: the content type is all the schema says
        if response.get("Content-Type", "").split(";")[0].strip() != media_type:
            return f"{name} answered {status} as {response.get('Content-Type')!r}, not {media_type}"
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            return f"{name} answered {status} with a body that is not JSON: {exc}"
        if schema is None:
            return None
        error = best_match(self._validator(schema).iter_errors(body))
        if error is None:
            return None
        while error.context:  # name what is wrong with the value, not that no branch fits
            relevant = [e for e in error.context if e.schema != {"type": "null"}]
            if not relevant:
                break
            error = best_match(relevant)
        where = "/".join(str(part) for part in error.absolute_path) or "(the body)"
        return f"{name} answered {status} with a body the schema does not describe: at {where}: {error.message}"

    def _validator(self, schema: dict[str, Any]) -> Validator:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            root = {**_json_schema(schema), "components": self._components}
            validator = Draft4Validator(root, format_checker=Draft4Validator.FORMAT_CHECKER)
            self._validators[key] = validator
        return validator


def _json_schemas(components: dict[str, Any]) -> dict[str, Any]:
    """The components' schemas as plain JSON Schema (see `_json_schema`)."""
    converted = copy.deepcopy(components)
    converted["schemas"] = {
        name: _json_schema(schema) for name, schema in converted.get("schemas", {}).items()
    }
    return converted


def _json_schema(schema: Any) -> Any:
    """Read an OpenAPI 3.0 schema as JSON Schema (draft 4), objects closed to unnamed fields.

    `nullable: true` admits null whatever else the schema says, as drf-spectacular means it
    (it writes a nullable nested object as `allOf: [$ref], nullable: true`) and as schemathesis
    reads it.
    """
    if not isinstance(schema, dict):
        return schema
    schema = dict(schema)
    if "properties" in schema:
        schema.setdefault("additionalProperties", False)
        schema["properties"] = {
            name: _json_schema(value) for name, value in schema["properties"].items()
        }
    for key in ("items", "additionalProperties", "not"):
        if key in schema:
            schema[key] = _json_schema(schema[key])
    for key in ("allOf", "oneOf", "anyOf"):
        if key in schema:
            schema[key] = [_json_schema(value) for value in schema[key]]
    if schema.pop("nullable", False):
        return {"anyOf": [schema, {"type": "null"}]}
    return schema
