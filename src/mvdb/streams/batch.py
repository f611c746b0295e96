"""What every consumer of the movies table's stream shares: batch processing and movie keys.

A consumer's ``lambda_handler`` is ``stream_batch_handler(<its function for one record>)``, which
hands each event to ``process_stream_batch``. Powertools' ``BatchProcessor``
(``EventType.DynamoDBStreams``) calls the function for each record in order and answers Lambda
with the sequence numbers of the records that raised (``batchItemFailures``); with
``ReportBatchItemFailures`` on the event source mapping, Lambda then retries from the first of
them. When every record of a batch fails, the processor raises, so the invocation fails and
Lambda can bisect the batch to isolate the record at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mvdb.config import get_settings
from mvdb.domain.query import MovieKey
from mvdb.observability import logger, metrics

__all__ = ["movie_key_of", "process_stream_batch", "stream_batch_handler"]

StreamBatchHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]

_MAX_INDEXABLE_YEAR = 9999  # four digits: the search index sorts years as text


def process_stream_batch(
    event: dict[str, Any], context: LambdaContext | None, record_handler: Callable[[DynamoDBRecord], Any]
) -> PartialItemFailureResponse:
    """Run ``record_handler`` on each record of a DynamoDB stream event; the partial batch response for Lambda.

    Raises ``BatchProcessingError`` when every record failed.
    """
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def stream_batch_handler(record_handler: Callable[[DynamoDBRecord], Any]) -> StreamBatchHandler:
    """A consumer's Lambda handler: ``record_handler`` on each record, with the service's log context and
    metrics (flushed as EMF after each invocation, dimension ``environment``)."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        environment = get_settings().environment
        if metrics.default_dimensions.get("environment") != environment:  # once per container
            metrics.set_default_dimensions(environment=environment)
        return process_stream_batch(event, context, record_handler)

    return lambda_handler


def movie_key_of(record: DynamoDBRecord) -> MovieKey | None:
    """The key of the movie a stream record is about; None for a key no movie of the service can have.

    The service writes only integer years of 1870-2100 (``mvdb.domain.models``); an item written
    around it with another year (2013.5, -1) is nothing a search can find, so it has no entries.
    """
    keys = record.dynamodb.keys if record.dynamodb else {}
    year, title = keys.get("year"), keys.get("title")
    if not isinstance(year, Decimal) or not isinstance(title, str):
        return None
    if year != year.to_integral_value() or not 0 <= year <= _MAX_INDEXABLE_YEAR:
        return None
    return MovieKey(year=int(year), title=title)
