"""Keeps the search index in step with the movies table, one movie at a time, whatever the order.

``DynamoDBSearchIndex.reconcile(key)`` is told only *that* the movie under ``key`` changed. It
reads the movie and the movie's manifest (one consistent BatchGetItem), works out the entries
the movie should have (``search_index.terms_of``) and changes the index to exactly those. A
stale, repeated or reordered notice therefore does no harm: whatever it said, the movie is
read as it is now.

The manifest item (``manifest#<year>`` / title) records the terms whose entries may exist, a
``version`` that every change of the movie's entries increments (optimistic concurrency), the
``etag`` of the version indexed and the ``layout``. Two rules make concurrent reconcilers of one
movie (the stream function, ``mvdb reindex``, ``mvdb load``) safe:

1. An entry is only ever written or deleted in a transaction that also checks the manifest's
   version, and the manifest lists it before it is written. So every entry that exists is
   listed, and a reconciler that lost the race can no longer write: its transaction fails.
2. The manifest is marked in step (``pending`` false, the ``etag``) only in a transaction that
   also checks the movie still has the ETag that was read (or is still absent). So "in step"
   is never recorded for a version of the movie that was replaced meanwhile.

A reconciler that loses a race starts again from the reads. Most movies need one transaction
(the movie's check, the manifest, up to 98 entries); ``reconcile_many`` (loads, reindexing)
reads 50 movies at once and puts several movies' transactions into one. A movie with more entry changes goes
through a claim: manifest marked pending, listed entries not wanted deleted (transactions of up
to 99 deletes, each checking the version), the manifest re-listed to the wanted terms, the
wanted entries written (likewise) and the manifest committed. A crash part-way leaves a pending
manifest that lists every entry that may exist; the next reconcile of the movie finishes the job.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mvdb.domain.errors import StorageUnavailable
from mvdb.domain.ports import ReconcileOutcome
from mvdb.domain.query import MovieKey
from mvdb.repository.dynamodb import from_item
from mvdb.repository.search_index import INDEX_LAYOUT_VERSION, IndexTerms, manifest_key, terms_of

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["DynamoDBSearchIndex", "ReconcileReport", "in_step", "reconcile_all"]

logger = logging.getLogger(__name__)

# TransactWriteItems takes at most 100 actions and 4 MB ("Amazon DynamoDB transactions",
# developer guide); one action of each transaction is a condition check, and we stay well
# below the size limit (an entry is at most a movie item, 400 KB, plus its keys).
_MAX_ACTIONS = 100
_MAX_TRANSACTION_BYTES = 3_500_000
_MAX_ATTEMPTS = 8
# BatchGetItem reads at most 100 items: a movie and its manifest each.
_BATCH_READ_MOVIES = 50
# What a search returns of a movie: the document GET serves (its ETag is copied beside it).
_MOVIE_ATTRIBUTES = ("year", "title", "info", "modified_by", "modified_at")
# Why a transaction was cancelled when another writer got there first ("None": an action that was fine).
_RACE_LOST = frozenset({"None", "ConditionalCheckFailed", "TransactionConflict"})
# Errors after which the same reads and writes, made again, may succeed.
_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class _Superseded(Exception):
    """The movie or its manifest changed since this reconciler read them: read again."""


@dataclass(frozen=True)
class _Manifest:
    version: int
    terms: IndexTerms
    pending: bool
    etag: str | None
    layout: int

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> _Manifest | None:
        if item is None:
            return None
        return cls(
            version=int(item["version"]["N"]),
            terms=IndexTerms(
                frozenset(value["S"] for value in item.get("partitions", {}).get("L", [])),
                frozenset(value["S"] for value in item.get("ratings", {}).get("L", [])),
            ),
            pending=bool(item.get("pending", {}).get("BOOL", False)),
            etag=item.get("etag", {}).get("S"),
            layout=int(item.get("layout", {}).get("N", "0")),
        )


@dataclass
class _Plan:
    """What bringing one movie's entries in step takes: its checks, entry writes and deletes.

    ``actions`` is the single transaction that does it all, when one can (None: in steps).
    """

    key: MovieKey
    version: int | None
    listed: IndexTerms
    wanted: IndexTerms
    etag: str | None
    movie_check: dict[str, Any]
    puts: list[dict[str, Any]]
    deletes: list[dict[str, Any]]
    actions: list[dict[str, Any]] | None = None

    @property
    def outcome(self) -> ReconcileOutcome:
        return "indexed" if self.etag is not None else "removed"

    def report(self, *, transactions: int) -> ReconcileReport:
        return ReconcileReport(len(self.puts), len(self.deletes), transactions, 0)


def in_step(item: dict[str, Any] | None, manifest_item: dict[str, Any] | None) -> bool:
    """Whether the index already holds exactly the entries of the movie stored as ``item`` (None: no movie).

    True when the manifest records this very version (its ETag and terms, this layout) as
    written in full; for a movie that is gone, when it has no manifest (and so no entries).
    """
    manifest = _Manifest.from_item(manifest_item)
    if item is None:
        return manifest is None
    return (
        manifest is not None
        and not manifest.pending
        and manifest.layout == INDEX_LAYOUT_VERSION
        and manifest.etag == from_item(item).etag
        and manifest.terms == terms_of(item)
    )


@dataclass
class ReconcileReport:
    """What reconciling did to the index: entries written and deleted, transactions, attempts lost to a race."""

    entries_written: int = 0
    entries_deleted: int = 0
    transactions: int = 0
    superseded: int = 0


class DynamoDBSearchIndex:
    """The ``SearchIndex`` port over DynamoDB: ``reconcile`` one movie of ``table_name`` into ``index_table_name``.

    ``on_report`` receives each reconcile's ``ReconcileReport`` (for metrics). Raises
    StorageUnavailable when DynamoDB does not answer, or when other writers kept superseding
    this one for ``_MAX_ATTEMPTS`` attempts; either way, calling ``reconcile`` again is safe.
    """

    def __init__(
        self,
        client: BaseClient,
        table_name: str,
        index_table_name: str,
        *,
        on_report: Callable[[ReconcileOutcome, ReconcileReport], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._index_table = index_table_name
        self._on_report = on_report

    def reconcile(self, key: MovieKey) -> ReconcileOutcome:
        report = ReconcileReport()
        for attempt in range(_MAX_ATTEMPTS):
            try:
                outcome = self._reconcile_once(key, report)
            except _Superseded:
                report.superseded += 1
                # Full jitter: two reconcilers of one movie should not collide again in step.
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))  # noqa: S311 - jitter, not security
                continue
            if self._on_report is not None:
                self._on_report(outcome, report)
            return outcome
        logger.warning("reconcile of %s kept being superseded (%d attempts)", key, _MAX_ATTEMPTS)
        raise StorageUnavailable()

    def reconcile_many(self, keys: Sequence[MovieKey]) -> dict[MovieKey, ReconcileOutcome]:
        """``reconcile`` for many movies at once, in fewer requests: for loads and reindexing.

        One BatchGetItem reads up to 50 movies and their manifests; the movies that fit are then
        written together, several to a transaction, each with its own checks. The same rules
        hold as for ``reconcile``: a transaction that any of its movies' checks cancels, and a
        movie too big to share one, are reconciled one by one. Raises StorageUnavailable as
        ``reconcile`` does; the movies already done stay done.
        """
        outcomes: dict[MovieKey, ReconcileOutcome] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH_READ_MOVIES):
            batch = unique[start : start + _BATCH_READ_MOVIES]
            movies, manifests = self._read_many(batch)
            shared: list[_Plan] = []
            for key in batch:
                plan = self._plan(key, movies.get(key), manifests.get(key))
                if plan is None:
                    outcomes[key] = self._reported("unchanged", ReconcileReport())
                elif plan.actions is None:
                    outcomes[key] = self.reconcile(key)
                else:
                    shared.append(plan)
            for group in _groups(shared):
                report = ReconcileReport()
                try:
                    self._transact([action for plan in group for action in plan.actions or ()], report)
                except (_Superseded, ClientError):  # one movie's race (or fault) must not hold back the others
                    for plan in group:
                        outcomes[plan.key] = self.reconcile(plan.key)
                    continue
                for plan in group:
                    outcomes[plan.key] = self._reported(plan.outcome, plan.report(transactions=1))
        return outcomes

    def _reported(self, outcome: ReconcileOutcome, report: ReconcileReport) -> ReconcileOutcome:
        if self._on_report is not None:
            self._on_report(outcome, report)
        return outcome

    # -- one attempt -----------------------------------------------------------------------

    def _reconcile_once(self, key: MovieKey, report: ReconcileReport) -> ReconcileOutcome:
        item, manifest_item = self._read(key)
        plan = self._plan(key, item, manifest_item)
        if plan is None:
            return "unchanged"
        if plan.actions is not None:
            self._transact(plan.actions, report)
        else:
            self._reconcile_in_steps(plan, report)
        report.entries_written += len(plan.puts)
        report.entries_deleted += len(plan.deletes)
        return plan.outcome

    def _plan(self, key: MovieKey, item: dict[str, Any] | None, manifest_item: dict[str, Any] | None) -> _Plan | None:
        """What bringing ``key`` in step takes, given the movie and manifest read; None when it is in step."""
        if in_step(item, manifest_item):
            return None
        manifest = _Manifest.from_item(manifest_item)
        wanted, etag = (terms_of(item), from_item(item).etag) if item is not None else (IndexTerms(), None)
        listed = manifest.terms if manifest is not None else IndexTerms()
        wanted_keys = wanted.keys(key.year, key.title)
        stale_keys = listed.keys(key.year, key.title) - wanted_keys
        puts = [self._put(self._entry(item, etag, k)) for k in sorted(wanted_keys)] if item and etag else []
        deletes = [self._delete(entry_key) for entry_key in sorted(stale_keys)]
        version = manifest.version if manifest is not None else None
        plan = _Plan(key, version, listed, wanted, etag, self._movie_check(key, item), puts, deletes)
        if 2 + len(puts) + len(deletes) <= _MAX_ACTIONS and _size(puts) <= _MAX_TRANSACTION_BYTES:
            plan.actions = [plan.movie_check, self._settle(key, version, wanted, etag), *puts, *deletes]
        return plan

    def _reconcile_in_steps(self, plan: _Plan, report: ReconcileReport) -> None:
        """Too many entry changes for one transaction: claim the manifest, delete, re-list, write, commit."""
        key = plan.key
        claimed = self._write_manifest(key, plan.version, plan.listed, pending=True, etag=None)
        for chunk in _chunks(plan.deletes):
            self._transact([self._version_check(key, claimed), *chunk], report)
        # Everything listed and not wanted is gone: the wanted terms now cover every entry that exists.
        relisted = self._write_manifest(key, claimed, plan.wanted, pending=True, etag=None)
        for chunk in _chunks(plan.puts):
            self._transact([self._version_check(key, relisted), *chunk], report)
        self._transact([plan.movie_check, self._settle(key, relisted, plan.wanted, plan.etag)], report)

    # -- reads -----------------------------------------------------------------------------

    def _read(self, key: MovieKey) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The movie item and its manifest item, both read strongly consistently in one call."""
        movie_key = {"year": {"N": str(key.year)}, "title": {"S": key.title}}
        request: dict[str, Any] = {
            self._table: {"Keys": [movie_key], "ConsistentRead": True},
            self._index_table: {"Keys": [manifest_key(key.year, key.title)], "ConsistentRead": True},
        }
        found: dict[str, list[dict[str, Any]]] = {self._table: [], self._index_table: []}
        for attempt in range(_MAX_ATTEMPTS):
            with _translate_errors():
                response = self._client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                movies, manifests = found[self._table], found[self._index_table]
                return (movies[0] if movies else None), (manifests[0] if manifests else None)
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not security
        raise StorageUnavailable()

    def _read_many(
        self, keys: Sequence[MovieKey]
    ) -> tuple[dict[MovieKey, dict[str, Any]], dict[MovieKey, dict[str, Any]]]:
        """The movies and manifests of ``keys`` (at most 50), read strongly consistently."""
        request: dict[str, Any] = {
            self._table: {
                "Keys": [{"year": {"N": str(k.year)}, "title": {"S": k.title}} for k in keys],
                "ConsistentRead": True,
            },
            self._index_table: {"Keys": [manifest_key(k.year, k.title) for k in keys], "ConsistentRead": True},
        }
        movies: dict[MovieKey, dict[str, Any]] = {}
        manifests: dict[MovieKey, dict[str, Any]] = {}
        for attempt in range(_MAX_ATTEMPTS):
            with _translate_errors():
                response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                movies[MovieKey(int(item["year"]["N"]), item["title"]["S"])] = item
            for item in response.get("Responses", {}).get(self._index_table, []):
                manifests[MovieKey(int(item["pk"]["S"].removeprefix("manifest#")), item["sk"]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return movies, manifests
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not security
        raise StorageUnavailable()

    # -- the actions of a transaction ------------------------------------------------------

    def _entry(self, item: dict[str, Any], etag: str, entry_key: tuple[str, str]) -> dict[str, Any]:
        projected = {name: item[name] for name in _MOVIE_ATTRIBUTES if name in item}
        return {"pk": {"S": entry_key[0]}, "sk": {"S": entry_key[1]}, **projected, "etag": {"S": etag}}

    def _put(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._index_table, "Item": entry}}

    def _delete(self, entry_key: tuple[str, str]) -> dict[str, Any]:
        return {
            "Delete": {"TableName": self._index_table, "Key": {"pk": {"S": entry_key[0]}, "sk": {"S": entry_key[1]}}}
        }

    def _movie_check(self, key: MovieKey, item: dict[str, Any] | None) -> dict[str, Any]:
        """A condition that holds while the movie is still the version read (or still absent)."""
        check: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"year": {"N": str(key.year)}, "title": {"S": key.title}},
            "ExpressionAttributeNames": {"#title": "title"},
        }
        if item is None:
            check["ConditionExpression"] = "attribute_not_exists(#title)"
        elif "etag" in item:
            check["ConditionExpression"] = "#etag = :etag"
            check["ExpressionAttributeNames"] = {"#etag": "etag"}
            check["ExpressionAttributeValues"] = {":etag": item["etag"]}
        else:
            # An item from before ETags were stored: any write through the service adds one.
            check["ConditionExpression"] = "attribute_exists(#title) AND attribute_not_exists(#etag)"
            check["ExpressionAttributeNames"]["#etag"] = "etag"
        return {"ConditionCheck": check}

    def _version_check(self, key: MovieKey, version: int) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._index_table,
                "Key": manifest_key(key.year, key.title),
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":version": {"N": str(version)}},
            }
        }

    def _settle(self, key: MovieKey, version: int | None, terms: IndexTerms, etag: str | None) -> dict[str, Any]:
        """The manifest written in step with the movie (or deleted with it), if still at ``version``."""
        condition = _version_condition(version)
        if etag is None:  # the movie is gone, and so are its entries
            return {"Delete": {"TableName": self._index_table, "Key": manifest_key(key.year, key.title), **condition}}
        item = _manifest_item(key, (version or 0) + 1, terms, pending=False, etag=etag)
        return {"Put": {"TableName": self._index_table, "Item": item, **condition}}

    def _write_manifest(
        self, key: MovieKey, version: int | None, terms: IndexTerms, *, pending: bool, etag: str | None
    ) -> int:
        """Put the manifest at ``version`` + 1 if it is still at ``version``; returns the new version."""
        new_version = (version or 0) + 1
        try:
            with _translate_errors():
                self._client.put_item(
                    TableName=self._index_table,
                    Item=_manifest_item(key, new_version, terms, pending=pending, etag=etag),
                    **_version_condition(version),
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise _Superseded() from error
            raise
        return new_version

    def _transact(self, actions: list[dict[str, Any]], report: ReconcileReport) -> None:
        try:
            with _translate_errors():
                self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
            if any(code in _RETRYABLE or code.startswith("Throttling") for code in reasons):
                raise StorageUnavailable() from error
            if all(code in _RACE_LOST for code in reasons):
                # The movie or the manifest moved on (ConditionalCheckFailed), or another transaction
                # held one of these items at this moment (TransactionConflict): read again.
                raise _Superseded() from error
            raise  # ValidationError and the like: no retry makes it pass; the caller reports the movie
        report.transactions += 1
        report.transactions += 1


def reconcile_all(
    index: DynamoDBSearchIndex,
    keys: Sequence[MovieKey],
    *,
    workers: int = 8,
    on_done: Callable[[int], None] | None = None,
) -> list[MovieKey]:
    """Reconcile every key (``reconcile_many``, ``workers`` batches at a time); the keys that could not be.

    A key fails when DynamoDB kept refusing (StorageUnavailable) or refused its entries outright
    (a ClientError such as a ValidationException): logged, returned, and the other keys still done.
    """

    def reconcile(batch: Sequence[MovieKey]) -> list[MovieKey]:
        try:
            index.reconcile_many(batch)
        except (StorageUnavailable, ClientError):
            return [key for key in batch if _failed_alone(index, key)]
        return []

    batches = [keys[start : start + _BATCH_READ_MOVIES] for start in range(0, len(keys), _BATCH_READ_MOVIES)]
    failed: list[MovieKey] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch, batch_failed in zip(batches, pool.map(reconcile, batches), strict=True):
            failed += batch_failed
            if on_done is not None:
                on_done(len(batch))
    return failed


def _failed_alone(index: DynamoDBSearchIndex, key: MovieKey) -> bool:
    try:
        index.reconcile(key)
    except (StorageUnavailable, ClientError) as error:
        logger.warning("could not index %s: %s", key, error)
        return True
    return False


def _manifest_item(
    key: MovieKey, version: int, terms: IndexTerms, *, pending: bool, etag: str | None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        **manifest_key(key.year, key.title),
        "version": {"N": str(version)},
        "partitions": {"L": [{"S": partition} for partition in sorted(terms.partitions)]},
        "ratings": {"L": [{"S": rating} for rating in sorted(terms.ratings)]},
        "pending": {"BOOL": pending},
        "layout": {"N": str(INDEX_LAYOUT_VERSION)},
    }
    if etag is not None:
        item["etag"] = {"S": etag}
    return item


def _version_condition(version: int | None) -> dict[str, Any]:
    if version is None:
        return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}}
    return {
        "ConditionExpression": "#version = :version",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": {":version": {"N": str(version)}},
    }


def _size(actions: list[dict[str, Any]]) -> int:
    """An upper bound of the actions' size as DynamoDB counts it (their JSON is longer than the items)."""
    return len(json.dumps(actions, ensure_ascii=False).encode())


def _groups(plans: list[_Plan]) -> Iterator[list[_Plan]]:
    """Plans whose single transactions fit into one together (actions and size)."""
    group: list[_Plan] = []
    actions = size = 0
    for plan in plans:
        plan_actions = plan.actions or []
        plan_size = _size(plan_actions)
        if group and (actions + len(plan_actions) > _MAX_ACTIONS or size + plan_size > _MAX_TRANSACTION_BYTES):
            yield group
            group, actions, size = [], 0, 0
        group.append(plan)
        actions += len(plan_actions)
        size += plan_size
    if group:
        yield group


def _chunks(actions: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The actions in groups that fit one transaction beside one condition check."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for action in actions:
        action_size = _size([action])
        if chunk and (len(chunk) + 2 > _MAX_ACTIONS or size + action_size > _MAX_TRANSACTION_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(action)
        size += action_size
    if chunk:
        yield chunk


@contextmanager
def _translate_errors() -> Iterator[None]:
    """DynamoDB's "try again later" errors, after botocore's own retries, as StorageUnavailable."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _RETRYABLE or code == "ResourceNotFoundException":
            logger.warning("DynamoDB unavailable while reconciling: %s", code)
            raise StorageUnavailable() from error
        raise
