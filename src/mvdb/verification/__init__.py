"""Checks that the movie data and the API's read paths over it are sound.

``read_checks``: the read-only checks of the API, over any transport (``ReadApi``): the deployed
tests run them over HTTPS against a stack; the restore validation and the local drill run them
in-process (``in_process``) against a restored table. ``table_checks``: what only a look at the
whole table can tell (key schema, every item a valid movie with its ETag intact, count, content
digest). ``restore_validation``: the Lambda function AWS Backup restore testing triggers.
"""
