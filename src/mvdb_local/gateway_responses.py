"""The REST API's gateway responses, as API Gateway renders them for one refused request.

A gateway response is what API Gateway answers without invoking the function (an unknown path, a
refused token, too large a body). The template configures them per response type
(``GatewayResponses`` of the ``AWS::Serverless::Api``): a status code, header mappings and a body
template. What the stand-in reproduces, from the API Gateway developer guide:

* **Fallback**: a type the API configures uses its own settings only; any other type "defaults to
  the DEFAULT_4XX type" (or DEFAULT_5XX) with its own default status code ("Gateway response types
  for API Gateway"). Without either, API Gateway's body ``{"message": ...}``.
* **Header mappings** ("Parameter mapping for REST APIs"): a static value in single quotes
  (``'application/problem+json'``), a request header (``method.request.header.Origin``) or a
  context variable; the only context variable this API uses, ``context.requestId``, is the
  request's id, the one the function's ``X-Request-Id`` and the access log carry.
* **Body templates** are not VTL: ``$context.error.messageString`` (a quoted JSON string) and
  ``$context.error.responseType`` are substituted.

The template's values are evaluated with the stack's parameters first (``evaluate``): ``Ref`` to a
parameter or ``AWS::NoValue``, ``Fn::If`` with the template's conditions, ``Fn::Join``,
``Fn::Select`` and ``Fn::Split``. Anything else raises ValueError, so a template change the
stand-in cannot follow fails when it starts rather than answering differently from AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mvdb_local.server import HttpRequest, HttpResponse

__all__ = ["DEFAULT_RESPONSES", "GatewayResponse", "evaluate", "gateway_responses"]

# API Gateway's default status and $context.error.messageString of the types the stand-in gives.
DEFAULT_RESPONSES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    # The Cognito authorizer could not be reached (locally: the user pool's key set could not be fetched).
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Authorizer configuration error"),
    # The function failed, e.g. its response was over Lambda's 6 MB: a 502 with "Internal server error"
    # (AWS Lambda developer guide, "Handling Lambda errors with an API Gateway API"). No type of the
    # documented list names this case; the API's 5XX fallback answers it.
    "DEFAULT_5XX": (502, "Internal server error"),
}
_NO_VALUE = object()  # what Ref AWS::NoValue evaluates to: the member is left out
# A header's value, from the request being refused (None: unread) and its request id; None leaves it out.
HeaderMapping = Callable[[HttpRequest | None, str], str | None]


@dataclass(frozen=True)
class GatewayResponse:
    """One response type as this API answers it: status, header mappings, body."""

    kind: str
    status: int
    headers: tuple[tuple[str, HeaderMapping], ...]
    body_template: str | None

    def render(self, request: HttpRequest | None, request_id: str) -> HttpResponse:
        """The response to ``request`` (None when it could not be read), whose id is ``request_id``."""
        headers = {"Content-Type": "application/json"}
        for name, mapping in self.headers:
            value = mapping(request, request_id)
            if value is not None:
                headers[name] = value
        message = DEFAULT_RESPONSES[self.kind][1]
        if self.body_template is None:
            body = json.dumps({"message": message})
        else:
            body = self.body_template.replace("$context.error.messageString", json.dumps(message))
            body = body.replace("$context.error.responseType", self.kind)
        return HttpResponse(self.status, body.encode(), headers)


def gateway_responses(
    template: Mapping[str, Any], api: str, parameters: Mapping[str, str]
) -> dict[str, GatewayResponse]:
    """The responses of the types in ``DEFAULT_RESPONSES`` for the API ``api`` of ``template`` (a parsed
    SAM template), its parameters given ``parameters`` (the others keep their defaults)."""
    configured = evaluate(template["Resources"][api]["Properties"].get("GatewayResponses", {}), template, parameters)
    responses = {}
    for kind, (default_status, _) in DEFAULT_RESPONSES.items():
        fallback = "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX"
        spec = configured.get(kind, configured.get(fallback, {}))
        status = int(spec.get("StatusCode", default_status))  # a fallback's status code replaces the type's
        headers = tuple(
            (name, _mapping(str(value)))
            for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items()
        )
        body = spec.get("ResponseTemplates", {}).get("application/json")
        responses[kind] = GatewayResponse(kind, status, headers, None if body is None else str(body))
    return responses


def _mapping(expression: str) -> HeaderMapping:
    if len(expression) >= 2 and expression[0] == expression[-1] == "'" and "'" not in expression[1:-1]:
        literal = expression[1:-1]
        return lambda _request, _request_id: literal
    if expression == "context.requestId":
        return lambda _request, request_id: request_id
    source, _, name = expression.rpartition(".")
    if source == "method.request.header" and name:
        return lambda request, _request_id: request.header(name) if request is not None else None
    raise ValueError(
        f"the local gateway cannot map {expression!r}: only 'static values', method.request.header.* "
        "and context.requestId"
    )


# -- the template's intrinsic functions -------------------------------------------------------------


def evaluate(value: Any, template: Mapping[str, Any], parameters: Mapping[str, str]) -> Any:
    """``value`` of ``template`` with its intrinsic functions evaluated for ``parameters`` (over the defaults).

    Raises ValueError for a function or a reference the stand-in does not evaluate.
    """
    defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    evaluated = _Evaluator({**defaults, **parameters}, template.get("Conditions", {})).value(value)
    return None if evaluated is _NO_VALUE else evaluated


class _Evaluator:
    def __init__(self, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> None:
        self._parameters = parameters
        self._conditions = conditions

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.value(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._function(name, argument)
        return {k: v for k, v in ((k, self.value(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise ValueError(f"no condition {name!r} in the template")
        return bool(self.value(self._conditions[name]))

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            if argument in self._parameters:
                return self._parameters[argument]
            raise ValueError(f"the local gateway cannot evaluate Ref {argument!r}")
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.value(if_true if self.condition(condition) else if_false)
        if name in {"Fn::Not", "Fn::And", "Fn::Or", "Fn::Equals"}:
            values = [self._condition_value(item) for item in argument]
            if name == "Fn::Not":
                return not values[0]
            if name == "Fn::And":
                return all(values)
            if name == "Fn::Or":
                return any(values)
            return values[0] == values[1]
        if name == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(str(item) for item in self.value(items))
        if name == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if name == "Fn::Split":
            delimiter, text = argument
            return str(self.value(text)).split(str(delimiter))
        raise ValueError(f"the local gateway cannot evaluate {name}")

    def _condition_value(self, item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"Condition"}:
            return self.condition(item["Condition"])
        return self.value(item)
