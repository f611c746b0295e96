"""Consumers of the movies table's DynamoDB stream: each a Lambda handler of its own.

In AWS each consumer is a function with its own event source mapping on the table's stream
(batches per shard, in order per key; partial batch failures reported; bounded retries; a
dead-letter queue). Locally, ``mvdb_local.streams`` polls DynamoDB Local's stream and calls
the same handlers with the same events. ``mvdb.streams.batch`` holds what they share.
"""
