"""The OpenAPI schema's rules that hold for every view, written once.

`QuorumAutoSchema` is drf-spectacular's `AutoSchema` with two additions:

- Every operation documents the errors it can answer, in the one error shape (`Error`:
  `{"code", "message", "extra"}`), from what the view is: 401 and 403 when it needs a signed-in
  caller (403 also covers MFA not set up yet), 404 when it looks something up by a path id or
  returns pages, 400 when it reads a body or query filters, 409 when it writes, 413 and 415 when it
  takes a body, 429 when it is rate limited, and 500 (a fault of Quorum's, logged) and 503 (an
  outage of the database or Redis) always.
  A view that documents one of these itself keeps its description; an error it adds gets the
  error body.
- A read-only field whose source crosses a nullable model field (`required_skill`, `actor.email`)
  is documented as nullable, as it is rendered.
- A read-only choice field whose model field may be blank (a review's `reason`) lists "" among
  its values: DRF drops `allow_blank` from read-only fields, the value is still rendered.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API.",
    "properties": {
        "code": {"type": "string", "description": "Stable; clients branch on it."},
        "message": {"type": "string", "description": "For people."},
        "extra": {
            "type": "object",
            "additionalProperties": {},
            "description": 'Details: "fields" maps each bad field to its messages.',
        },
    },
    "required": ["code", "message", "extra"],
}
ERROR_DESCRIPTIONS = {
    "400": 'The input is not valid (code "validation_error"; extra.fields names each bad field).',
    "401": "No credentials, or a token that is unknown, revoked or expired.",
    "403": 'Not allowed for your role, or your role needs MFA set up first (code "mfa_required").',
    "404": "Not found, or not visible to you.",
    "409": "The request conflicts with the current state of what it changes.",
    "413": "The request body is too large.",
    "415": "The body's content type is not one this operation reads.",
    "429": "Too many requests: Retry-After says how many seconds to wait.",
    "500": "An unexpected fault of the server's; it is logged for the operators.",
    "503": "The database or cache cannot be reached: Retry-After says when to try again.",
}
RETRY_AFTER_HEADER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
}
# Query parameters that never make a request invalid: a bad page is 404, the rest are ignored.
_HARMLESS_QUERY = frozenset({"page", "page_size", "ordering"})
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class QuorumAutoSchema(AutoSchema):
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(
            path, path_regex, path_prefix, method, registry
        )
        if operation is None:
            return None
        error_ref = self._error_component().ref
        responses: dict[str, Any] = operation["responses"]
        for code in self._error_statuses(operation):
            response = responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
            if not response.get("description"):
                response["description"] = ERROR_DESCRIPTIONS[code]
            if code in {"429", "503"}:
                response.setdefault("headers", RETRY_AFTER_HEADER)
        for code, response in responses.items():
            if code >= "400":  # the view's own errors too: every error has the one shape
                response.setdefault("content", {"application/json": {"schema": error_ref}})
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_component(self) -> ResolvedComponent:
        component = ResolvedComponent(
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            schema=ERROR_SCHEMA,
            object=ERROR_COMPONENT,
        )
        self.registry.register_on_missing(component)
        return component

    def _error_statuses(self, operation: dict[str, Any]) -> list[str]:
        parameters = operation.get("parameters", [])
        takes_body = "requestBody" in operation or (
            self.method in _BODY_METHODS and self.get_request_serializer() is not None
        )
        security = operation.get("security", [])
        needs_sign_in = bool(security) and {} not in security
        takes_path_id = any(p["in"] == "path" for p in parameters)
        pages = any(p["in"] == "query" and p["name"] == "page" for p in parameters)
        filters = any(p["in"] == "query" and p["name"] not in _HARMLESS_QUERY for p in parameters)

        codes: list[str] = []
        if takes_body or filters:
            codes.append("400")
        if needs_sign_in:
            codes += ["401", "403"]
        if takes_path_id or pages:
            codes.append("404")
        if self.method in _WRITE_METHODS and needs_sign_in:
            codes.append("409")
        if takes_body:
            codes += ["413", "415"]
        if self.view.get_throttles():
            codes.append("429")
        codes += ["500", "503"]  # any call may meet a bug, or a database or Redis outage
        return codes

    def _get_serializer_field_meta(self, field: Any, direction: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        if (
            isinstance(field, serializers.Field)
            and field.read_only
            and not meta.get("nullable")
            and _source_is_nullable(field)
        ):
            meta["nullable"] = True
        return meta

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        choices = schema.get("enum") if isinstance(schema, dict) else None
        if (
            isinstance(field, serializers.ChoiceField)
            and field.read_only
            and isinstance(choices, list)
            and "" not in choices
            and _source_may_be_blank(field)
        ):
            # Before null, as drf-spectacular lists a blank choice; its enum hook makes BlankEnum.
            at = choices.index(None) if None in choices else len(choices)
            schema["enum"] = [*choices[:at], "", *choices[at:]]
        return schema


def _source_may_be_blank(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    """Whether the model field a serializer field renders (its own, not a related one's) may be blank."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    source_attrs: list[str] = getattr(field, "source_attrs", None) or []
    if model is None or len(source_attrs) != 1:
        return False
    try:
        model_field = model._meta.get_field(source_attrs[0])
    except FieldDoesNotExist:
        return False
    return bool(getattr(model_field, "blank", False))


def _source_is_nullable(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    """Whether the model fields a serializer field reads through can hold NULL."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    source_attrs: list[str] = getattr(field, "source_attrs", None) or []
    if model is None or source_attrs == [] or field.source == "*":
        return False
    for name in source_attrs:
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if not model_field.concrete or model_field.many_to_many:
            return False  # reverse relations and lists are never null, only empty
        if model_field.null:
            return True
        if not isinstance(model_field, models.ForeignKey | models.OneToOneField):
            return False
        model = model_field.related_model
    return False
