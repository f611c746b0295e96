"""Movies in a DynamoDB table keyed by ``year`` (number, partition) and ``title`` (string, sort).

Items are ``{year, title, info, modified_by, modified_at, etag, last_change}``. ``etag`` is stored
so that ``If-Match`` can be checked by DynamoDB itself in a condition expression: no
read-then-write race, no lost update. Items written before ``etag`` existed are still served;
their ETag is computed on read. ``last_change`` (never served) is the ``Change`` that wrote the
item (operation, client, request id, time): the table's stream carries it, in the new image of
a create, replace or patch, to the audit trail (``mvdb.streams.audit_trail``).

A removal's stream record carries only the item as it was, which names its last writer, not
its deleter. So a delete is two writes: an UpdateItem that sets ``last_change`` to the delete
(under the If-Match condition; the movie's document and ETag stay as they are), then a
DeleteItem conditional on that very ``last_change``. The stream's REMOVE record then names the
deleter; the audit trail skips the MODIFY record of the first step (it changes no movie). A
delete costs two write units of the item's size instead of one, and one more stream record.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from mvdb.config import default_search_index_table_name
from mvdb.domain.changes import Change
from mvdb.domain.errors import (
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    MovieNotFound,
    PreconditionFailed,
    StorageUnavailable,
)
from mvdb.domain.models import compute_etag
from mvdb.domain.ports import SearchHit, StoredMovie
from mvdb.domain.query import IndexPosition, MovieKey, MovieQuery, SearchPosition

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from mvdb.config import Settings
    from mvdb.repository.search_index import IndexPlan

__all__ = [
    "DynamoDBMovieRepository",
    "create_client",
    "from_item",
    "to_item",
]

logger = logging.getLogger(__name__)

# Errors that mean "try again later", after botocore's own bounded retries have run out.
_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceNotFoundException",  # table missing or still being created: an operator's problem, not the client's
    }
)
# DynamoDB's ValidationException messages for a value past one of its limits ("Constraints in
# Amazon DynamoDB"): keys over 2,048/1,024 bytes, an item over 400 KB,
# a number out of range or past 38 digits, an empty key. The models bound every value a request
# carries below these; should one slip through, the client hears 400, not 500 (which would page
# on-call and could roll back a canary), and the warning logged says which limit the models missed.
_INPUT_LIMITS = re.compile(
    r"primary key values must be under|Aggregated size of all range keys|size has exceeded|"
    r"Number overflow|Number underflow|precision up to 38 digits|cannot contain an empty string value"
)
# A search reads at most this many pages of DynamoDB per request, then returns what it found
# with a cursor: latency and read cost per request stay bounded.
_MAX_PAGES_PER_REQUEST = 5
_MOVIE_ATTRIBUTES = ("year", "title", "info", "modified_by", "modified_at", "etag")
LAST_CHANGE = "last_change"  # the item attribute holding the Change that wrote it (never served)
_SMALLEST_NUMBER = 1e-130  # the smallest magnitude a DynamoDB number can have, other than 0

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo_value(v) for v in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo_value(v) for v in value]
    return value


def _number(text: str) -> int | float:
    # A DynamoDB number as JSON would carry it: integral values as int (2013, and 9.0 as 9), the
    # rest as the nearest float. Most are plain integers (years, ranks, running times), which
    # int() reads directly. A fraction or an exponent is never an int() literal: the nearest float
    # is the value unless it is integral (9.0, 1E+2; or 2.00...01, which rounds to one), and then
    # Decimal, which reads the text exactly, decides (a failed int() cost ten times the float).
    if "." in text or "e" in text or "E" in text:
        nearest = float(text)
        if not nearest.is_integer():
            return nearest
    try:
        return int(text)
    except ValueError:
        value = Decimal(text)
        return int(value) if value == value.to_integral_value() else float(value)


def _plain(value: dict[str, Any]) -> Any:
    """One DynamoDB attribute value (wire format, e.g. ``{"N": "8.3"}``) as a JSON-ready value.

    Reads the types movie documents are written with directly: the same values as boto3's
    ``TypeDeserializer`` followed by ``_from_dynamo_value``, without building a ``Decimal`` per
    number (on a page of movies that was most of the handler's own time). Sets and binary values,
    which mvdb never writes, take that general path.
    """
    if "S" in value:
        return value["S"]
    if "N" in value:
        return _number(value["N"])
    # A string member is read in place: most members of a movie are strings (names, genres, the plot).
    if "M" in value:
        return {name: member["S"] if "S" in member else _plain(member) for name, member in value["M"].items()}
    if "L" in value:
        return [member["S"] if "S" in member else _plain(member) for member in value["L"]]
    if "BOOL" in value:
        return value["BOOL"]
    if "NULL" in value:
        return None
    return _from_dynamo_value(_deserializer.deserialize(value))


def to_item(
    document: dict[str, Any], etag: str, write_id: str | None = None, change: Change | None = None
) -> dict[str, Any]:
    """A movie document as a DynamoDB item (attribute-value map).

    ``write_id`` marks which request wrote the item, so that a retried write can recognise its
    own earlier attempt (see ``_written_by_us``); ``change`` is the write's attribution for the
    audit trail (``last_change``). Neither is ever served.
    """
    attributes = {
        **document,
        "etag": etag,
        **({"write_id": write_id} if write_id else {}),
        **({LAST_CHANGE: change.as_dict()} if change else {}),
    }
    return {name: _serializer.serialize(_to_dynamo_value(value)) for name, value in attributes.items()}


def from_item(item: dict[str, Any]) -> StoredMovie:
    # Only the attributes of the movie model: anything else another writer left is not served.
    plain = {name: _plain(item[name]) for name in _MOVIE_ATTRIBUTES if name in item}
    etag = plain.pop("etag", None)
    info = plain.setdefault("info", {})
    if isinstance(info.get("rating"), int):
        # DynamoDB keeps one number type: a rating of 9.0 comes back as 9. Rating is the model's
        # one float field; serve it as written (9.0), so a GET matches what the PUT returned.
        info["rating"] = float(info["rating"])
    return StoredMovie(document=plain, etag=etag if isinstance(etag, str) else compute_etag(plain))


def _filter_number(value: float) -> str:
    # DynamoDB refuses a number smaller than 1e-130 in magnitude. No stored rating lies strictly
    # between 0 and 1e-130 (the model refuses one), so ">= 1e-130" selects what ">= value" means.
    return "1E-130" if 0 < value < _SMALLEST_NUMBER else str(value)


def _index_query(index_table: str, plan: IndexPlan, partition: str, limit: int) -> dict[str, Any]:
    """The Query of one partition of the search index that ``plan`` reads, for at most ``limit`` items."""
    names = {"#pk": "pk"}
    values: dict[str, Any] = {":pk": {"S": partition}}
    condition = "#pk = :pk"
    if plan.sort_key_prefix is not None:
        names["#sk"] = "sk"
        values[":sk"] = {"S": plan.sort_key_prefix}
        condition += " AND begins_with(#sk, :sk)"
    elif plan.sort_key_from is not None:
        names["#sk"] = "sk"
        values[":sk"] = {"S": plan.sort_key_from}
        condition += " AND #sk >= :sk"
    filters = []
    for number, (attribute, value) in enumerate(plan.list_filters):
        names |= {"#info": "info", f"#list{number}": attribute}
        values[f":list{number}"] = {"S": value}
        filters.append(f"contains(#info.#list{number}, :list{number})")
    if plan.min_rating is not None:
        names |= {"#info": "info", "#rating": "rating"}
        values[":min_rating"] = {"N": _filter_number(plan.min_rating)}
        filters.append("#info.#rating >= :min_rating")
    if plan.title_prefix is not None:
        names["#title"] = "title"
        values[":title_prefix"] = {"S": plan.title_prefix}
        filters.append("begins_with(#title, :title_prefix)")
    request: dict[str, Any] = {
        "TableName": index_table,
        "KeyConditionExpression": condition,
        "ScanIndexForward": plan.forward,
        "Limit": limit,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    return request


def _key(key: MovieKey) -> dict[str, Any]:
    return {"year": {"N": str(key.year)}, "title": {"S": key.title}}


def _key_of(item: dict[str, Any]) -> MovieKey:
    return MovieKey(year=int(item["year"]["N"]), title=item["title"]["S"])


class DynamoDBMovieRepository:
    def __init__(
        self,
        client: BaseClient,
        table_name: str,
        *,
        index_table_name: str | None = None,
        on_retries: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._index_table = index_table_name or default_search_index_table_name(table_name)
        self._on_retries = on_retries

    # -- reads -------------------------------------------------------------------------------

    def get(self, key: MovieKey) -> StoredMovie | None:
        with self._translate_errors():
            response = self._client.get_item(TableName=self._table, Key=_key(key), ConsistentRead=True)
        self._observe(response)
        item = response.get("Item")
        return from_item(item) if item else None

    def search(
        self, query: MovieQuery, start_after: SearchPosition | None
    ) -> tuple[list[SearchHit], SearchPosition | None]:
        # Imported on the first search, not at init: the cold start of a GET by key does not pay for it.
        from mvdb.repository.search_index import plan_search

        plan = plan_search(query)
        if plan is not None:
            if start_after is not None and not isinstance(start_after, IndexPosition):
                raise InvalidCursor("issued for a different search")
            return self._search_index(query, plan, start_after)
        if start_after is not None and not isinstance(start_after, MovieKey):
            raise InvalidCursor("issued for a different search")
        return self._list_movies(query, start_after)

    def _list_movies(
        self, query: MovieQuery, start_after: MovieKey | None
    ) -> tuple[list[SearchHit], SearchPosition | None]:
        """A year (a Query of its partition, by title) or everything (a Scan): ``limit`` movies per page.

        Exactly ``limit`` items are read, never one more: no page reads what another page reads
        (unless the service cuts a page short at its byte budget and resumes at a hit's position:
        then the items read past the cut are read again), so the page after the last full one may
        be empty.
        """
        request: dict[str, Any] = {"TableName": self._table, "Limit": query.limit}
        if query.year is not None:
            names = {"#year": "year"}
            values: dict[str, Any] = {":year": {"N": str(query.year)}}
            condition = "#year = :year"
            if query.title_prefix:
                names["#title"] = "title"
                values[":prefix"] = {"S": query.title_prefix}
                condition += " AND begins_with(#title, :prefix)"
            request |= {
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        elif query.title_prefix:
            raise ValueError("title_prefix needs a year")  # the service guarantees this; see MovieService.search
        if start_after is not None:
            request["ExclusiveStartKey"] = _key(start_after)
        operation = self._client.query if query.year is not None else self._client.scan
        with self._translate_errors(cursor_given=start_after is not None):
            response = operation(**request)
        self._observe(response)
        last_evaluated = response.get("LastEvaluatedKey")
        hits = [SearchHit(from_item(item), _key_of(item)) for item in response.get("Items", [])]
        return hits, _key_of(last_evaluated) if last_evaluated else None

    def _search_index(
        self, query: MovieQuery, plan: IndexPlan, start_after: IndexPosition | None
    ) -> tuple[list[SearchHit], SearchPosition | None]:
        """The plan's partitions, in order, each from its start or from the position: up to ``limit`` movies.

        Each Query asks for no more items than the page still needs, and the next page resumes
        after the last item DynamoDB read (returned or filtered out): no item is read twice (unless
        the service cuts the page short at its byte budget: it resumes at a hit's position).
        Without a filter a page is full unless the search ends in it: each Query then returns at
        least one item (DynamoDB stops a Query at 1 MB, not before its first item) or finishes a
        partition, so the loop ends. With a filter, reading stops after ``_MAX_PAGES_PER_REQUEST``
        Queries, so a page may be short, even empty. Each hit's position is its own entry's place
        in the index (partition, ``sk``).
        """
        partition, sort_key = (start_after.partition, start_after.sort_key) if start_after else (0, None)
        if partition >= len(plan.partitions) or (sort_key is not None and not plan.admits(sort_key)):
            raise InvalidCursor("bad position")
        found: list[SearchHit] = []
        budget = _MAX_PAGES_PER_REQUEST if plan.filtered else len(plan.partitions) - partition + query.limit
        for _ in range(budget):
            request = _index_query(self._index_table, plan, plan.partitions[partition], query.limit - len(found))
            if sort_key is not None:
                request["ExclusiveStartKey"] = {"pk": {"S": plan.partitions[partition]}, "sk": {"S": sort_key}}
            with self._translate_errors(cursor_given=start_after is not None):
                response = self._client.query(**request)
            self._observe(response)
            items = response.get("Items", [])
            found.extend(SearchHit(from_item(item), IndexPosition(partition, item["sk"]["S"])) for item in items)
            last_evaluated = response.get("LastEvaluatedKey")
            if last_evaluated:
                sort_key = last_evaluated["sk"]["S"]
            else:
                partition, sort_key = partition + 1, None
            if partition == len(plan.partitions):
                return found, None
            if len(found) == query.limit:
                break
        return found, IndexPosition(partition, sort_key)

    # -- writes ------------------------------------------------------------------------------

    def create(self, document: dict[str, Any], etag: str, *, change: Change | None = None) -> None:
        write_id = uuid.uuid4().hex
        try:
            with self._translate_errors():
                response = self._client.put_item(
                    TableName=self._table,
                    Item=to_item(document, etag, write_id, change),
                    ConditionExpression="attribute_not_exists(#title)",
                    ExpressionAttributeNames={"#title": "title"},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if _is_conditional_failure(error):
                if _written_by_us(error, write_id):
                    return
                raise MovieAlreadyExists(document["year"], document["title"]) from error
            raise
        self._observe(response)

    def replace(self, document: dict[str, Any], etag: str, *, if_match: str, change: Change | None = None) -> None:
        key = MovieKey(document["year"], document["title"])
        write_id = uuid.uuid4().hex
        self._conditional_write(
            key,
            if_match,
            write_id,
            lambda condition, names, values: self._client.put_item(
                TableName=self._table,
                Item=to_item(document, etag, write_id, change),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )

    def delete(self, key: MovieKey, *, if_match: str, change: Change | None = None) -> None:
        if change is None:  # nobody to name: one unattributed DeleteItem
            self._conditional_write(key, if_match, None, self._delete_item(key))
            return
        # 1. Name the deleter on the item, under the If-Match condition (document and ETag unchanged).
        #    A retry of this step after a lost response finds its own marker: the condition still holds.
        marker = _serializer.serialize(change.as_dict())
        self._conditional_write(
            key,
            if_match,
            None,
            lambda condition, names, values: self._client.update_item(
                TableName=self._table,
                Key=_key(key),
                UpdateExpression="SET #last_change = :change",
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, "#last_change": LAST_CHANGE},
                ExpressionAttributeValues={**values, ":change": marker},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )
        # 2. Delete exactly the item that names this deleter: if another write replaced it in
        #    between, that write stands and this delete is stale (412).
        try:
            with self._translate_errors():
                response = self._client.delete_item(
                    TableName=self._table,
                    Key=_key(key),
                    ConditionExpression="#last_change.#request_id = :request_id AND #last_change.#at = :at",
                    ExpressionAttributeNames={"#last_change": LAST_CHANGE, "#request_id": "request_id", "#at": "at"},
                    ExpressionAttributeValues={":request_id": {"S": change.request_id}, ":at": {"S": change.at}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            if error.response.get("Item"):
                raise PreconditionFailed(key.year, key.title) from error
            # Gone: this delete's earlier attempt landed (its response was lost and botocore retried),
            # or another delete raced it to the same end. Either way the movie is deleted.
            return
        self._observe(response)

    def _delete_item(self, key: MovieKey) -> Callable[[str, dict[str, str], dict[str, Any]], dict[str, Any]]:
        return lambda condition, names, values: self._client.delete_item(
            TableName=self._table,
            Key=_key(key),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": values} if values else {}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _conditional_write(
        self,
        key: MovieKey,
        if_match: str,
        write_id: str | None,
        write: Callable[[str, dict[str, str], dict[str, Any]], dict[str, Any]],
    ) -> None:
        # DynamoDB rejects a request naming an attribute its expressions do not use.
        names: dict[str, str]
        if if_match == "*":
            names, condition, values = {"#title": "title"}, "attribute_exists(#title)", {}
        else:
            names, condition, values = {"#etag": "etag"}, "#etag = :expected", {":expected": {"S": if_match}}
        try:
            with self._translate_errors():
                response = write(condition, names, values)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            current = error.response.get("Item")
            if not current:
                raise MovieNotFound(key.year, key.title) from error
            if write_id is not None and _written_by_us(error, write_id):
                return
            if "etag" in current or from_item(current).etag != if_match:
                raise PreconditionFailed(key.year, key.title) from error
            # An item from before ETags were stored: its ETag was computed on read and matches.
            # Writing only while it still has no stored ETag keeps the check race-free.
            try:
                with self._translate_errors():
                    response = write(
                        "attribute_exists(#title) AND attribute_not_exists(#etag)",
                        {"#title": "title", "#etag": "etag"},
                        {},
                    )
            except ClientError as retry_error:
                if _is_conditional_failure(retry_error):
                    raise PreconditionFailed(key.year, key.title) from retry_error
                raise
        self._observe(response)

    # -- health ------------------------------------------------------------------------------

    def ping(self) -> None:
        """A GetItem of a key no movie has: proves the table exists and the role may read it."""
        with self._translate_errors():
            self._client.get_item(
                TableName=self._table,
                Key=_key(MovieKey(0, "__health__")),
                ProjectionExpression="#year",
                ExpressionAttributeNames={"#year": "year"},
            )

    # -- plumbing ----------------------------------------------------------------------------

    def _observe(self, response: dict[str, Any]) -> None:
        retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if retries and self._on_retries is not None:
            self._on_retries(retries)

    @contextmanager
    def _translate_errors(self, *, cursor_given: bool = False) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            retries = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            if retries and self._on_retries is not None:
                self._on_retries(retries)
            if code in _UNAVAILABLE_CODES:
                logger.warning("DynamoDB unavailable: %s after %d retries", code, retries)
                raise StorageUnavailable() from error
            message = str(error.response.get("Error", {}).get("Message", ""))
            if code == "ValidationException" and _INPUT_LIMITS.search(message):
                logger.warning("DynamoDB refused a value past its limits: %s", message)
                raise InvalidInput(
                    f"A value of this request is beyond what the movies table can store: {message}."
                ) from error
            if code == "ValidationException" and cursor_given:
                # Only a start key we passed on can make an otherwise valid search invalid.
                raise InvalidCursor("position rejected") from error
            raise
        except (BotocoreConnectionError, HTTPClientError) as error:
            logger.warning("DynamoDB unreachable: %s", type(error).__name__)
            raise StorageUnavailable() from error


def _written_by_us(error: ClientError, write_id: str) -> bool:
    """The condition failed because this very request's earlier attempt already wrote the item.

    botocore retries a write whose response was lost (timeout, 5xx); if the first attempt
    landed, the retry's condition fails against our own item. The write succeeded once and is
    not applied twice; a different request that wrote the same content is still a conflict.
    """
    current = error.response.get("Item") or {}
    return bool(current.get("write_id", {}).get("S") == write_id)


def _is_conditional_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def create_client(settings: Settings) -> BaseClient:
    """The one DynamoDB client of a process: short timeouts, bounded retries with backoff.

    botocore's ``standard`` retry mode retries throttling, 5xx and connection errors with
    exponential backoff and jitter, up to ``dynamodb_max_attempts`` attempts in all.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.dynamodb_connect_timeout_s,
        read_timeout=settings.dynamodb_read_timeout_s,
        retries={"total_max_attempts": settings.dynamodb_max_attempts, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint, config=config)
