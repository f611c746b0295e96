"""Idempotency keys: a ``POST`` or ``PATCH`` sent with ``Idempotency-Key`` is performed at most once.

The header is the IETF HTTPAPI draft's ("The Idempotency-Key HTTP Header Field",
draft-ietf-httpapi-idempotency-key-header-07): one RFC 8941 sf-string (``Idempotency-Key:
"8e03978e-40d5-43e8-bc93-6894a57f9324"``), here 1 to ``MAX_KEY_LENGTH`` characters. What a key
means, per client (the token's ``client_id``) and per operation (method and route), for
``RECORD_TTL_S`` seconds after the request completed:

* first use: the operation runs; its successful response (status, headers, body) is recorded;
* a retry with the same request (same path, ``If-Match`` and JSON body): the recorded response,
  with ``Idempotent-Replayed: true``; the operation does not run again;
* the same key with another request: 422 ``idempotency-key-reused`` (the draft's "Error Handling");
* a retry while the first is still running: 409 ``idempotency-key-in-progress`` with Retry-After;
* a malformed key, or more than one ``Idempotency-Key`` line: 400 ``invalid-idempotency-key``.

A request that fails (any error response) changed nothing and records nothing: its retry, with the
same key, runs again. Other operations ignore the header (GET, PUT and DELETE are idempotent by
definition, RFC 9110 §9.2.2). Records live in a DynamoDB table (``IDEMPOTENCY_TABLE_NAME``, TTL on
``expiration``) kept by Powertools' idempotency utility and its DynamoDB persistence layer, which
also bounds an in-progress record by the invocation's remaining time (a timed-out request's retry
runs again). The utility is imported and its table client built on the first keyed request only:
requests without the header, reads above all, pay nothing for it.
docs/adr/idempotency-keys-per-client-and-operation.md says why each choice was made.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.metrics import MetricUnit

from mvdb.api.problems import ProblemError
from mvdb.config import Settings, default_idempotency_table_name
from mvdb.domain.errors import StorageUnavailable
from mvdb.observability import logger, metrics

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_LENGTH",
    "RECORD_TTL_S",
    "REPLAYED_HEADER",
    "IdempotencyStore",
    "IdempotentRequest",
    "parse_idempotency_key",
]

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255  # characters of the key itself (a UUID is 36): room for any client's scheme
RECORD_TTL_S = 24 * 60 * 60  # how long a completed request's response is kept for its retries
IN_PROGRESS_RETRY_AFTER_S = 1
# RFC 8941 §3.3.3: sf-string = DQUOTE *chr DQUOTE; chr = unescaped / escaped, printable ASCII only.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_ESCAPED = re.compile(r'\\(["\\])')
# The header's value in the OpenAPI document: exactly what parse_idempotency_key accepts.
_KEY_SCHEMA = {"maxLength": MAX_KEY_LENGTH + 2, "pattern": r'^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])+"$'}


def _document_key(schema: dict[str, Any]) -> None:
    """Puts the key's limits on the string in the header's schema (``anyOf: [string, null]``)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch.update(_KEY_SCHEMA)


Perform = Callable[[], Response[Any]]


def parse_idempotency_key(value: str) -> str:
    """The key an ``Idempotency-Key`` field value carries: an RFC 8941 sf-string, unescaped.

    The value must be exactly one sf-string of 1 to ``MAX_KEY_LENGTH`` characters between its
    quotes, as sent (an escape counts two): what the OpenAPI document's pattern and maxLength say.
    Raises ProblemError 400 ``invalid-idempotency-key`` for anything else: a token or number
    instead of a string, parameters or a list after it, an empty or a longer key.
    """
    match = _SF_STRING.fullmatch(value)
    if match is None:
        raise _invalid_key('send one quoted string of printable ASCII (RFC 8941 sf-string), e.g. "8e03978e-..."')
    if not match.group(1):
        raise _invalid_key("the key is empty")
    if len(match.group(1)) > MAX_KEY_LENGTH:
        raise _invalid_key(f"the key has {len(match.group(1))} characters; at most {MAX_KEY_LENGTH} are accepted")
    return _ESCAPED.sub(r"\1", match.group(1))


def _invalid_key(reason: str) -> ProblemError:
    return ProblemError(HTTPStatus.BAD_REQUEST, "invalid-idempotency-key", f"Idempotency-Key is malformed: {reason}.")


class IdempotencyStore:
    """The idempotency records of one API: a Powertools DynamoDB persistence layer per operation,
    each built on the operation's first keyed request, all over one client of the table."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.table_name = settings.idempotency_table_name or default_idempotency_table_name(settings.table_name)
        self._layers: dict[str, Any] = {}
        self._client: Any = None
        self._lock = threading.Lock()

    def layer(self, operation: str) -> Any:
        """The persistence layer of ``operation``: its records are ``<operation>#<hash>``, apart from any other's."""
        with self._lock:
            layer = self._layers.get(operation)
            if layer is None:
                from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

                from mvdb.repository.dynamodb import create_client

                if self._client is None:
                    self._client = create_client(self._settings)
                # key "id", TTL "expiration": the utility's defaults, which infra/stacks/data.yaml declares.
                layer = self._layers[operation] = DynamoDBPersistenceLayer(
                    table_name=self.table_name, boto3_client=self._client
                )
            return layer

    def request_of(self, request: Request, idempotency_key: IdempotencyKey = None) -> IdempotentRequest:
        """``request`` as its operation's idempotent request: a Powertools ``Depends`` provider, which a
        route that honours the header declares as ``Annotated[IdempotentRequest, Depends(store.request_of)]``.

        ``idempotency_key`` is declared for the OpenAPI document only: a dependency's parameters are
        documented but not validated by the resolver, so every field line is read here, and more
        than one is refused rather than joined. Raises ProblemError 400 ``invalid-idempotency-key``
        for a malformed key or more than one ``Idempotency-Key`` line.
        """
        del idempotency_key  # read from every field line below
        lines = _header_values(request, IDEMPOTENCY_KEY_HEADER.lower())
        if len(lines) > 1:
            raise _invalid_key("send the header once")
        return IdempotentRequest(self, request, parse_idempotency_key(lines[0]) if lines else None)


class IdempotentRequest:
    """One request to an operation that honours ``Idempotency-Key``: ``once(perform)`` answers it."""

    def __init__(self, store: IdempotencyStore, request: Request, key: str | None) -> None:
        self._store = store
        self._request = request
        self._key = key

    def once(self, perform: Perform, lambda_context: Any) -> Response[Any]:
        """``perform()``'s response, or the one recorded for this client, operation and key.

        ``lambda_context`` (the invocation's) bounds how long the request counts as in progress:
        without it, a request killed mid-way would hold its key for ``RECORD_TTL_S``.
        Raises ProblemError 409 (in progress), 422 (key reused with another request), and
        StorageUnavailable (503) when the records' table cannot be read or written.
        """
        if self._key is None:
            return perform()
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        replayed: list[bool] = []

        def replay(response: Any, idempotent_data: Any) -> Any:  # an IdempotentHookFunction
            del idempotent_data
            replayed.append(True)
            return response

        # A config per request: it holds this invocation's context (Powertools reads its remaining time).
        config = IdempotencyConfig(
            event_key_jmespath="[client, key]",
            payload_validation_jmespath="request",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=RECORD_TTL_S,
            hash_function="sha256",
            lambda_context=lambda_context,
            response_hook=replay,
        )
        operation = f"{self._request.method} {self._request.route}"
        recorded_once = idempotent_function(
            _recorded,
            data_keyword_argument="identity",
            persistence_store=self._store.layer(operation),
            config=config,
            key_prefix=operation,
        )
        try:
            recorded = recorded_once(identity=self._identity(), perform=perform)
        except IdempotencyValidationError:
            raise ProblemError(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "This Idempotency-Key was used with a different request (path, If-Match or body) of this "
                "operation; send a new key for a new request.",
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise ProblemError(
                HTTPStatus.CONFLICT,
                "idempotency-key-in-progress",
                "A request with this Idempotency-Key is still being processed; retry it unchanged shortly.",
                headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER_S)},
            ) from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
            logger.warning("Idempotency records unavailable", extra={"error_type": type(error.__cause__).__name__})
            raise StorageUnavailable("The idempotency records are unavailable right now; retry shortly.") from None
        if replayed:
            metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
        return _response(recorded, replayed=bool(replayed))

    def _identity(self) -> dict[str, Any]:
        """What identifies the request (``client``, ``key``) and what its retries must repeat (``request``)."""
        event = self._request.resolved_event.raw_event
        claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims")
        client = claims.get("client_id") if isinstance(claims, dict) else None
        return {
            # No token (a local run without auth): one anonymous client.
            "client": client if isinstance(client, str) else "",
            "key": self._key,
            "request": {
                "path": event.get("pathParameters"),  # as the gateway matched them
                "if_match": _header_values(self._request, "if-match"),
                "body": self._request.json_body,  # as parsed: member order and spacing do not matter
            },
        }


def _recorded(identity: dict[str, Any], perform: Perform) -> dict[str, Any]:
    """``perform()``'s response as a JSON document the idempotency record keeps (``identity``: the record's key)."""
    del identity  # Powertools hashes it; the operation itself does not need it
    response = perform()
    return {"status": response.status_code, "headers": dict(response.headers), "body": response.body}


def _response(recorded: dict[str, Any], *, replayed: bool) -> Response[Any]:
    headers = dict(recorded["headers"])
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(status_code=int(recorded["status"]), body=recorded["body"], headers=headers)


def _header_values(request: Request, name: str) -> list[str]:
    multi = request.resolved_event.raw_event.get("multiValueHeaders") or {}
    values = [str(v) for key, vs in multi.items() if key.lower() == name for v in (vs or [])]
    if values:
        return values
    single = request.headers
    return [str(v) for key, v in single.items() if key.lower() == name]


# The header as the OpenAPI document describes it (``IdempotencyStore.request_of``'s parameter).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        description=(
            "Makes a retry of this request safe (IETF draft-ietf-httpapi-idempotency-key-header): a quoted "
            f"string of 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID, unique per request. "
            f"A retry with the same key and request within {RECORD_TTL_S // 3600} hours gets the first "
            "response again (with Idempotent-Replayed: true) and changes nothing; the same key with "
            "another request gets 422, a retry while the first runs 409. Keys are per client and operation."
        ),
        json_schema_extra=_document_key,
    ),
]
